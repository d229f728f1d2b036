package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/loomsdn/loom/proto/loom/v1"

	"github.com/loomsdn/loom/integration/harness"
)

// writeConfig puts a loomd config file in the lab directory.
func writeConfig(t testing.TB, lab *harness.Lab, name, body string) string {
	t.Helper()
	p := filepath.Join(lab.Dir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startFlowMonitor runs ovs-ofctl monitor on br and waits until it is
// watching: its log then holds one line per flow added, modified or
// deleted. (OpenFlow 1.3, the only version Loom's bridges speak; a monitor
// that failed to attach would see no change and prove nothing.)
func startFlowMonitor(t *testing.T, lab *harness.Lab, hv *harness.Hypervisor, br *harness.Bridge) *harness.Process {
	t.Helper()
	monitor := lab.Start("monitor-"+br.Name, hv.NS, []string{"OVS_RUNDIR=" + hv.RunDir}, "ovs-ofctl", "-O", "OpenFlow13", "monitor",
		"unix:"+filepath.Join(hv.RunDir, br.Name+".mgmt"), "watch:!initial")
	waitFor(t, "flow monitor attached", 10*time.Second, func() bool {
		return strings.Contains(monitor.Log(), "FLOW_MONITOR reply") || monitor.Exited()
	})
	if monitor.Exited() {
		t.Fatalf("ovs-ofctl monitor failed:\n%s", monitor.Log())
	}
	return monitor
}

// flowState is a flow as dump-flows shows it, split into its identity and
// behaviour (cookie, match, actions) and its counters.
type flowState struct {
	packets  int
	duration float64
}

var (
	rePackets  = regexp.MustCompile(`n_packets=(\d+)`)
	reDuration = regexp.MustCompile(`duration=([0-9.]+)s`)
	reCounters = regexp.MustCompile(` (duration|n_packets|n_bytes|idle_age|hard_age)=[^ ,]*,?`)
)

// flowTable maps each flow's identity (counters stripped) to its counters.
func flowTable(t *testing.T, br *harness.Bridge) map[string]flowState {
	t.Helper()
	lines, err := br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]flowState, len(lines))
	for _, l := range lines {
		var st flowState
		if m := rePackets.FindStringSubmatch(l); m != nil {
			st.packets, _ = strconv.Atoi(m[1])
		}
		if m := reDuration.FindStringSubmatch(l); m != nil {
			st.duration, _ = strconv.ParseFloat(m[1], 64)
		}
		out[strings.TrimSpace(reCounters.ReplaceAllString(l, ""))] = st
	}
	return out
}

// waitPersisted waits until loomd has written its desired state, so a
// restart that follows finds it.
func (l *loomd) waitPersisted(t *testing.T) {
	t.Helper()
	waitFor(t, "desired state persisted", 10*time.Second, func() bool {
		return strings.Contains(l.proc.Log(), "desired state persisted")
	})
}

func sameFlows(a, b map[string]flowState) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func TestControllerRestartIsHitless(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)
	l.waitPersisted(t)
	before := flowTable(t, br)

	// Watch every change to the table, and ping every 10 ms throughout.
	monitor := startFlowMonitor(t, lab, hv, br)
	pinger := lab.Start("pinger", vm1.NS, nil, "ping", "-i", "0.01", "-c", "1000", "-W", "1", vm2.IP)

	l.proc.Kill9()
	waitFor(t, "OVS to notice loomd is gone", 15*time.Second, func() bool { return !br.IsConnected() })
	l.start(t)
	waitFor(t, "restarted loomd to reconcile the switch", 20*time.Second, func() bool {
		return strings.Contains(l.proc.Log(), "switch connected")
	})
	if !strings.Contains(l.proc.Log(), "flow_mods=0") {
		t.Errorf("the restarted loomd changed flows on connect:\n%s", l.proc.Log())
	}
	if err := pinger.Wait(30 * time.Second); err != nil {
		t.Fatalf("ping during the restart: %v\n%s", err, pinger.Log())
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Fatalf("pings lost across the restart:\n%s", tailLines(pinger.Log(), 3))
	}
	for _, line := range strings.Split(monitor.Log(), "\n") {
		if strings.Contains(line, "event=DELETED") || strings.Contains(line, "event=MODIFIED") || strings.Contains(line, "event=ADDED") {
			t.Errorf("the table changed across the restart: %s", line)
		}
	}
	after := flowTable(t, br)
	if !sameFlows(before, after) {
		t.Fatalf("flows before the restart:\n%v\nafter:\n%v", before, after)
	}
	for k, b := range before {
		if a := after[k]; a.packets < b.packets || a.duration < b.duration {
			t.Errorf("flow %s: counters went down (packets %d -> %d, duration %.3f -> %.3f)", k, b.packets, a.packets, b.duration, a.duration)
		}
	}
}

func TestOVSRestartGetsEveryFlowBack(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	connectLoom(t, lab, br, vm1, vm2)
	before := flowTable(t, br)

	hv.KillVswitchd()
	hv.StartVswitchd() // its flow table starts empty
	if err := br.WaitConnected(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Within 5 s of the reconnect every flow is back and forwarding works
	// (a bound on the wait, not a performance figure).
	waitFor(t, "every flow back", 5*time.Second, func() bool { return sameFlows(before, flowTable(t, br)) })
	if err := vm1.Ping(vm2.IP, 3, 5*time.Second); err != nil {
		t.Fatalf("ping after the OVS restart: %v", err)
	}
}

func TestOutOfBandChangesAreRepaired(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", "flows:\n  verify_interval: 1s\n")
	l := attachLoom(t, lab, br, "--config", cfg)
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	want := flowTable(t, br)

	for _, change := range [][]string{
		{"del-flows", "--strict", "table=4,priority=100,vlan_tci=0x0000/0x1fff,dl_dst=" + vm1.MAC},
		{"mod-flows", "--strict", "table=4,priority=100,vlan_tci=0x0000/0x1fff,dl_dst=" + vm2.MAC + ",actions=output:99"},
		{"add-flow", "table=4,priority=50,cookie=0x4c4d010000000042,dl_dst=02:00:00:00:00:99,actions=drop"},
	} {
		if out, err := br.Ofctl(change...); err != nil {
			t.Fatalf("ovs-ofctl %v: %v %s", change, err, out)
		}
	}
	if sameFlows(want, flowTable(t, br)) {
		t.Fatal("the out-of-band changes did not change the table")
	}
	// One verify period (1 s), plus the time a pass takes.
	waitFor(t, "drift repaired", 5*time.Second, func() bool { return sameFlows(want, flowTable(t, br)) })
	if !strings.Contains(l.proc.Log(), "repaired drift") {
		t.Error("loomd did not log the repair")
	}
	// The event stream names the flows put back.
	conn, ctx := l.api(t)
	stream, err := pb.NewControllerServiceClient(conn).WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var drift []string
	for {
		e, err := stream.Recv()
		if err != nil {
			break
		}
		if e.Kind == "drift" {
			drift = append(drift, e.Message)
		}
	}
	if all := strings.Join(drift, "\n"); !strings.Contains(all, "dl_dst="+vm1.MAC) || !strings.Contains(all, "(l2 ") {
		t.Errorf("drift events do not name the flows put back:\n%s", all)
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the repair: %v", err)
	}
}

func TestRejectedBundleLeavesTheTableAndNamesTheFlow(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)
	l.waitPersisted(t)
	before := flowTable(t, br)

	// Restart with two static flows, one of which OVS refuses (ct on a flow
	// that does not match IP; a backward goto_table Loom refuses itself): the
	// whole bundle is refused.
	const bad = "table=4, priority=500,dl_dst=02:00:00:00:00:99 actions=ct(commit,zone=5)"
	cfg := writeConfig(t, lab, "loom.yaml", `flows:
  verify_interval: 1h
apps:
  static:
    flows:
      - {switch: "*", flow: "table=4, priority=400,dl_dst=02:00:00:00:00:98 actions=drop"}
      - {switch: "*", flow: "`+bad+`"}
`)
	l.proc.Stop()
	l.start(t, "--config", cfg)
	waitFor(t, "the switch's refusal logged with the flow and app", 20*time.Second, func() bool {
		for _, line := range strings.Split(l.proc.Log(), "\n") {
			if strings.Contains(line, "switch rejected a flow") && strings.Contains(line, "app=static") && strings.Contains(line, bad) {
				return true
			}
		}
		return false
	})
	if !strings.Contains(l.proc.Log(), "table is unchanged") {
		t.Errorf("no log of the refused bundle:\n%s", l.proc.Log())
	}
	if after := flowTable(t, br); !sameFlows(before, after) {
		t.Fatalf("a refused bundle changed the table:\nbefore %v\nafter  %v", before, after)
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the refused bundle: %v", err)
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// VLAN matches and actions come back from OVS in a form the reconciler
// recognises: verify passes find nothing to repair.
func TestVLANFlowsRoundTripThroughOVS(t *testing.T) {
	t.Parallel()
	lab, _, br, _, _ := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", `flows:
  verify_interval: 300ms
apps:
  static:
    flows:
      - {switch: "*", flow: "table=0, priority=300,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1"}
      - {switch: "*", flow: "table=4, priority=300,dl_dst=02:00:00:00:00:99,dl_vlan=10 actions=pop_vlan,output:2"}
`)
	l := attachLoom(t, lab, br, "--config", cfg)
	waitFor(t, "the VLAN flows on the switch", 10*time.Second, func() bool {
		flows, _ := br.DumpFlows()
		return containsLine(flows, "vlan_tci=0x0000/0x1fff") && containsLine(flows, "dl_vlan=10")
	})
	time.Sleep(2 * time.Second) // several verify passes
	if strings.Contains(l.proc.Log(), "repaired drift") {
		t.Fatalf("the reconciler keeps rewriting the VLAN flows:\n%s", tailLines(l.proc.Log(), 10))
	}
}
