package harness

import (
	"fmt"
	"os"
	"strings"
)

// diagLines is how much of each log a failed test prints.
const diagLines = 40

// dumpDiagnostics logs what is needed to understand a failed test while the
// lab is still up: for every hypervisor the bridges, their flows and the
// tail of the ovs-vswitchd log (plus the userspace tunnelling state of
// hypervisors with an uplink), and the tail of every process log.
func (l *Lab) dumpDiagnostics() {
	l.mu.Lock()
	hvs := append([]*Hypervisor(nil), l.hypervisors...)
	procs := append([]*Process(nil), l.procs...)
	l.mu.Unlock()

	for _, h := range hvs {
		var b strings.Builder
		fmt.Fprintf(&b, "=== hypervisor %s (netns %s, rundir %s)\n", h.Name, h.NS, h.RunDir)
		if out, err := h.Vsctl("show"); err != nil {
			fmt.Fprintf(&b, "ovs-vsctl show: %v\n", err)
		} else {
			fmt.Fprintf(&b, "%s\n", out)
		}
		h.mu.Lock()
		bridges := append([]*Bridge(nil), h.bridges...)
		h.mu.Unlock()
		for _, br := range bridges {
			flows, err := br.DumpFlows()
			if err != nil {
				fmt.Fprintf(&b, "--- dump-flows %s: %v\n", br.Name, err)
				continue
			}
			fmt.Fprintf(&b, "--- dump-flows %s (%d flows)\n%s\n", br.Name, len(flows), strings.Join(flows, "\n"))
		}
		if h.TunnelIP != "" {
			b.WriteString(h.TunnelState())
		}
		fmt.Fprintf(&b, "--- tail of %s\n%s", h.VswitchdLog(), tail(readFile(h.VswitchdLog()), diagLines))
		l.t.Logf("%s", b.String())
	}
	for _, p := range procs {
		logText := p.Log()
		if strings.TrimSpace(logText) == "" {
			continue // the OVS daemons log to files of their own, shown above
		}
		state := "running"
		if p.Exited() {
			state = fmt.Sprintf("exited: %v", p.err)
		}
		l.t.Logf("=== process %s, %s\n--- tail of %s\n%s", p, state, p.LogPath(), tail(logText, diagLines))
	}
}

// readFile returns a file's contents, or a note saying why it could not.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}
