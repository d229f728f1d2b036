package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaleLoomFlowsAreReplacedInOneBundle is issue 12 against real OVS: a
// bridge that holds 100,000 flows with Loom's cookie marker that nobody
// declares gets one cookie-masked delete and the adds of the desired flows
// in one atomic bundle. Pings every 10 ms lose nothing, a foreign flow
// survives, and the next verify pass finds nothing to do.
func TestStaleLoomFlowsAreReplacedInOneBundle(t *testing.T) {
	t.Parallel()
	const stale = 100_000
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", "flows:\n  verify_interval: 1s\n")
	l := attachLoom(t, lab, br, "--config", cfg)
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := flowTable(t, br)

	const foreign = "table=4, priority=10,dl_dst=02:00:00:00:00:77 actions=drop"
	if out, err := br.Ofctl("add-flow", "cookie=0x1,"+foreign); err != nil {
		t.Fatalf("ovs-ofctl add-flow: %v %s", err, out)
	}
	var sb strings.Builder
	for i := 0; i < stale; i++ {
		fmt.Fprintf(&sb, "table=4,priority=50,cookie=0x4c4d0100%08x,dl_dst=02:ee:00:%02x:%02x:%02x,actions=drop\n", i, i>>16&0xff, i>>8&0xff, i&0xff)
	}
	file := filepath.Join(lab.Dir(), "stale.txt")
	if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pinger := lab.Start("pinger", vm1.NS, nil, "ping", "-i", "0.01", "-c", "2000", "-W", "1", vm2.IP)
	time.Sleep(time.Second)
	drifts := strings.Count(l.proc.Log(), "repaired drift")
	cmd := exec.Command("ip", "netns", "exec", hv.NS, "ovs-ofctl", "-O", "OpenFlow13", "--bundle", "add-flows",
		"unix:"+filepath.Join(hv.RunDir, br.Name+".mgmt"), file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ovs-ofctl add-flows: %v %s", err, out)
	}
	line := fmt.Sprintf("switch holds 100,000 stale Loom flows; replaced the table in one bundle (1 delete, %d adds)", len(want))
	waitFor(t, "the table replaced", 60*time.Second, func() bool { return strings.Contains(l.proc.Log(), line) })

	after := flowTable(t, br)
	if len(after) != len(want)+1 {
		t.Errorf("after the replacement the bridge holds %d flows, want Loom's %d and the foreign one", len(after), len(want))
	}
	foreignSeen := false
	for k := range after {
		foreignSeen = foreignSeen || (strings.Contains(k, "cookie=0x1,") && strings.Contains(k, "dl_dst=02:00:00:00:00:77"))
	}
	if !foreignSeen {
		t.Errorf("the foreign flow is gone: %v", after)
	}
	for k := range want {
		if _, ok := after[k]; !ok {
			t.Errorf("Loom's flow %s is missing after the replacement", k)
		}
	}
	if err := pinger.Wait(60 * time.Second); err != nil {
		t.Fatalf("ping during the replacement: %v\n%s", err, pinger.Log())
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Errorf("pings lost across the replacement:\n%s", tailLines(pinger.Log(), 3))
	}
	// Later verify passes (every second) find the table as wanted.
	replaced := strings.Count(l.proc.Log(), "repaired drift")
	time.Sleep(3 * time.Second)
	log := l.proc.Log()
	if n := strings.Count(log, "repaired drift"); n != replaced || replaced != drifts+1 {
		t.Errorf("%d drift repairs before the stale flows, %d with the replacement, %d three passes later; want exactly one:\n%s",
			drifts, replaced, n, tailLines(log, 10))
	}
	if strings.Count(log, "replaced the table") != 1 {
		t.Errorf("the table was replaced more than once:\n%s", tailLines(log, 10))
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the replacement: %v", err)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "replaced the table") || (strings.Contains(line, "full reconcile") && strings.Contains(line, "flows_on_switch=1000")) {
			t.Log(line)
		}
	}
}
