package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
)

// ovsdbChanges are loomd's log lines for the OVSDB transactions it made
// for apps' ports and bridge rows.
func ovsdbChanges(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		for _, what := range []string{"updated the ", "set the ", "cleared the ", "removed a port", "added a port", "OVSDB change failed"} {
			if strings.Contains(line, what) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// With the tunnel port and an sFlow row (targets out of order, every
// optional column set), Loom writes OVSDB only to make or repair them: a
// steady state makes no transaction, an operator's edit of the port's
// options or the row's columns is repaired once and then holds, and a
// restart makes none at all.
func TestOVSDBStateIsWrittenOnlyWhenItDiffers(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1"}, []string{"b2"})
	sflow := "apps:\n  sflow: {targets: [\"127.0.0.1:9999\", \"127.0.0.1:6343\", \"[::1]:6343\"], sampling: 10, header: 64, polling: 0, agent: lo}\n"
	cfg := writeConfig(t, lab, "loom.yaml", meshConfig("vxlan", hosts, sflow))
	l := startLoomd(t, lab, "--config", cfg)
	joinLoom(t, l, hosts...)
	hv := hosts[0].hv
	waitFor(t, "Loom's sFlow row", 10*time.Second, func() bool {
		return strings.Contains(bridgeSFlow(t, hv, "vswitch02"), "loom-owned=sflow")
	})
	settled := func(what string) int {
		t.Helper()
		n := -1
		for range 20 { // the count holds still for a second
			time.Sleep(250 * time.Millisecond)
			m := len(ovsdbChanges(l.proc.Log()))
			if m == n {
				return m
			}
			n = m
		}
		t.Fatalf("%s: loomd keeps writing OVSDB:\n%s", what, strings.Join(ovsdbChanges(l.proc.Log()), "\n"))
		return 0
	}
	steady := settled("at start")
	// Interfaces' statistics and the VMs' traffic change OVSDB all along.
	mustPing(t, hosts[0].vms["b1"], hosts[1].vms["b2"])
	time.Sleep(2 * time.Second)
	if n := len(ovsdbChanges(l.proc.Log())); n != steady {
		t.Fatalf("a steady state wrote OVSDB:\n%s", strings.Join(ovsdbChanges(l.proc.Log())[steady:], "\n"))
	}

	if _, err := hv.Vsctl("set", "Interface", "loom-vxlan", "options:key=77"); err != nil {
		t.Fatal(err)
	}
	uuid := column(bridgeSFlow(t, hv, "vswitch02"), "_uuid")
	if _, err := hv.Vsctl("set", "sFlow", uuid, "header=200", "targets=\"127.0.0.1:1\""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the port's options and the row repaired", 10*time.Second, func() bool {
		opts, _ := hv.Vsctl("get", "Interface", "loom-vxlan", "options")
		row := bridgeSFlow(t, hv, "vswitch02")
		return strings.Contains(opts, "key=flow") && column(row, "header") == "64" && strings.Contains(row, "127.0.0.1:6343")
	})
	repaired := settled("after the repair")
	if got := ovsdbChanges(l.proc.Log())[steady:repaired]; len(got) > 3 { // a removal, an addition, a rewrite
		t.Fatalf("the repair took %d transactions:\n%s", len(got), strings.Join(got, "\n"))
	}
	mustPing(t, hosts[0].vms["b1"], hosts[1].vms["b2"])

	if err := l.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	l.start(t, "--config", cfg)
	for _, h := range hosts {
		if err := h.vs2.WaitConnected(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	mustPing(t, hosts[0].vms["b1"], hosts[1].vms["b2"])
	time.Sleep(2 * time.Second)
	if got := ovsdbChanges(l.proc.Log()); len(got) > 0 {
		t.Fatalf("the restart wrote OVSDB:\n%s", strings.Join(got, "\n"))
	}
	for _, p := range l.problems() {
		t.Errorf("loomd: %s", p)
	}
}
