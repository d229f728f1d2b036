package integration

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/integration/harness"
)

// tunnelCases are the flows of a VXLAN gateway: keys and tunnel sources
// mapped to VLANs on the way in, VLANs to keys and remote VTEPs on the way
// out, through the flow-based tunnel port vx. OVS prints the tunnel fields
// after a protocol shorthand (udp) and before in_port.
func tunnelCases(vx uint32) []aclCase {
	ip := netip.MustParseAddr
	peer := flow.MAC{2, 0, 0, 0, 0, 0x99}
	return []aclCase{
		{flow.Flow{Priority: 100, Match: flow.Match{}.InPort(vx).TunID(0x1392),
			Actions: []flow.Action{flow.PushVLAN(), flow.SetVLAN(10)}}.Then(1),
			fmt.Sprintf("priority=100,tun_id=0x1392,in_port=%d actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1", vx)},
		{flow.Flow{Priority: 101, Match: flow.Match{}.InPort(vx).TunID(0x1392).TunSrc(ip("192.168.50.2")),
			Actions: []flow.Action{flow.PushVLAN(), flow.SetVLAN(20)}}.Then(1),
			fmt.Sprintf("priority=101,tun_id=0x1392,tun_src=192.168.50.2,in_port=%d actions=push_vlan:0x8100,set_field:4116->vlan_vid,goto_table:1", vx)},
		{flow.Flow{Priority: 102, Match: flow.Match{}.TunSrc(ip("192.168.50.4"))},
			"priority=102,tun_src=192.168.50.4 actions=drop"},
		{flow.Flow{Priority: 103, Match: flow.Match{}.InPort(vx).TunID(0)},
			fmt.Sprintf("priority=103,tun_id=0,in_port=%d actions=drop", vx)},
		{flow.Flow{Priority: 104, Match: flow.Match{}.InPort(vx).EthType(0x0800).IPProto(17).TunID(0xffffff)}.Then(1),
			fmt.Sprintf("priority=104,udp,tun_id=0xffffff,in_port=%d actions=goto_table:1", vx)},
		{flow.Flow{Table: 1, Priority: 90, Match: flow.Match{}.VLAN(10).EthDst(peer),
			Actions: []flow.Action{flow.PopVLAN(), flow.SetTunID(0x1392), flow.SetTunDst(ip("192.168.50.3")), flow.Output(vx)}},
			fmt.Sprintf("priority=90,dl_vlan=10,dl_dst=02:00:00:00:00:99 actions=pop_vlan,set_field:0x1392->tun_id,set_field:192.168.50.3->tun_dst,output:%d", vx)},
		{flow.Flow{Table: 1, Priority: 91, Match: flow.Match{}.VLAN(20),
			Actions: []flow.Action{flow.PopVLAN(), flow.SetTunDst(ip("192.168.50.2")), flow.SetTunID(0), flow.Output(vx)}},
			fmt.Sprintf("priority=91,dl_vlan=20 actions=pop_vlan,set_field:192.168.50.2->tun_dst,set_field:0->tun_id,output:%d", vx)},
	}
}

// Tunnel matches and set-fields come back from OVS in a form the
// reconciler recognises: installed once, and verify passes find nothing
// to repair.
func TestTunnelFlows(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	br := hv.AddBridge("vswitch02", 0xc2)
	// OVS accepts tun_* fields only on a bridge with a tunnel port; a
	// flow-based one takes its key and remote from tun_id and tun_dst.
	if _, err := hv.Vsctl("add-port", br.Name, "loom-vxlan", "--", "set", "Interface", "loom-vxlan",
		"type=vxlan", "options:remote_ip=flow", "options:key=flow"); err != nil {
		t.Fatal(err)
	}
	vx, err := hv.OfPort("loom-vxlan")
	if err != nil {
		t.Fatal(err)
	}
	cases := tunnelCases(uint32(vx))
	app := fixedFlowsApp{name: "tunneltest", id: 98}
	for _, c := range cases {
		app.flows = append(app.flows, c.flow)
	}
	ctl, hook, sock := aclLoom(t, lab.Dir(), app)
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitForDumpedFlows(t, br, hook, cases)
	checkWireReadBack(t, br, cases)
	checkNoDrift(t, ctl, hook, 2*time.Second)
}

// waitForDumpedFlows waits until dump-flows shows every case, with Loom's
// cookie, exactly as OVS spells it.
func waitForDumpedFlows(t *testing.T, br *harness.Bridge, hook *test.Hook, cases []aclCase) {
	t.Helper()
	missing := func() (out, lines []string) {
		lines, err := br.DumpFlows()
		if err != nil {
			t.Fatal(err)
		}
	cases:
		for _, c := range cases {
			for _, l := range lines {
				if strings.Contains(l, "cookie=0x4c4d") && strings.Contains(l, fmt.Sprintf(" table=%d,", c.flow.Table)) &&
					strings.HasSuffix(l, " "+c.ovs) {
					continue cases
				}
			}
			out = append(out, fmt.Sprintf("table=%d %s", c.flow.Table, c.ovs))
		}
		return out, lines
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, lines := missing()
		if len(out) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("flows missing from the switch:\n%s\nthe switch has:\n%s\nloom logged:\n%s",
				strings.Join(out, "\n"), strings.Join(lines, "\n"), logText(hook))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkWireReadBack checks that what OVS reports over OpenFlow reads back
// as the very flows declared: same key, same instruction bytes, same
// actions, and every declared flow seen.
func checkWireReadBack(t *testing.T, br *harness.Bridge, cases []aclCase) {
	t.Helper()
	want := map[flow.Key]flow.Flow{}
	for _, c := range cases {
		want[c.flow.Key()] = c.flow
	}
	seen := 0
	for _, fs := range wireFlows(t, br) {
		if fs.Priority == 0 {
			continue // the tables' miss flows
		}
		m, err := flow.MatchFromOXMs(fs.Match)
		if err != nil {
			t.Errorf("table %d priority %d: match %+v: %v", fs.TableID, fs.Priority, fs.Match, err)
			continue
		}
		f, ok := want[flow.Key{Table: fs.TableID, Priority: fs.Priority, Match: m}]
		if !ok {
			t.Errorf("table %d priority %d: %s is not a declared key", fs.TableID, fs.Priority, m)
			continue
		}
		seen++
		if !bytes.Equal(fs.RawInstructions, f.InstructionBytes()) {
			t.Errorf("%s: OVS reports instructions %x, Loom encodes %x", f, fs.RawInstructions, f.InstructionBytes())
		}
		var acts []flow.Action
		for _, in := range fs.Instructions {
			for _, w := range in.Actions {
				a, ok := flow.ActionFromWire(w)
				if !ok {
					t.Errorf("%s: action %+v does not read back", f, w)
				}
				acts = append(acts, a)
			}
		}
		if got := (flow.Flow{Actions: acts, Goto: f.Goto, GotoTable: f.GotoTable}); !got.SameBehaviour(f) {
			t.Errorf("%s: actions read back as %s", f, got.ActionsString())
		}
	}
	if seen != len(cases) {
		t.Errorf("%d of %d declared flows recognised in the switch's report", seen, len(cases))
	}
}

// checkNoDrift checks that over several verify passes (aclLoom verifies
// every 300 ms) nothing was rewritten, refused or repaired.
func checkNoDrift(t *testing.T, ctl *controller.Controller, hook *test.Hook, wait time.Duration) {
	t.Helper()
	before := ctl.Stats()
	time.Sleep(wait)
	after := ctl.Stats()
	if after.DriftRepairs != 0 || after.FlowMods != before.FlowMods {
		t.Fatalf("the reconciler keeps rewriting the flows: drift repairs %d, flow-mods %d -> %d\n%s",
			after.DriftRepairs, before.FlowMods, after.FlowMods, logText(hook))
	}
	if after.InvalidFlows != 0 || after.SwitchErrors != 0 || after.BundlesRejected != 0 {
		t.Fatalf("invalid flows %d, switch errors %d, rejected bundles %d\n%s",
			after.InvalidFlows, after.SwitchErrors, after.BundlesRejected, logText(hook))
	}
}
