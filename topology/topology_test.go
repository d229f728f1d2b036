package topology

import (
	"testing"

	"github.com/loomsdn/loom/ovsdb"
)

func hvView() *ovsdb.Hypervisor {
	return &ovsdb.Hypervisor{Name: "kvm01", SystemID: "sys-1", Hostname: "kvm01.example", Bridges: []ovsdb.Bridge{
		{Name: "vswitch02", DPID: 0xc1, Ports: []ovsdb.Port{
			{Name: "centos01_port1", OfPort: 1, AttachedMAC: "52:54:00:aa:bb:01", IfaceID: "if-1", VMUUID: "vm-1", IfaceStatus: "active"},
			{Name: "patch-to-01", Type: "patch", PatchPeer: "patch-to-02", OfPort: 2},
			{Name: "vswitch02", Type: "internal", OfPort: 65534},
			{Name: "vxlan-kvm02", Type: "vxlan", RemoteIP: "192.0.2.20", Key: "flow", OfPort: 3},
		}},
	}}
}

func TestJoinOpenFlowWithOVSDB(t *testing.T) {
	top := New()
	cur := top.Follow()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640", TunnelIP: "192.0.2.10"}})
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}, {No: 2, Name: "patch-to-01", Up: true}, {No: 3, Name: "vxlan-kvm02", Up: true}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)

	s := top.Snapshot()
	if len(s.Switches) != 1 || s.Switches[0].Bridge != "vswitch02" || s.Switches[0].Hypervisor != "kvm01" || !s.Switches[0].Connected {
		t.Fatalf("switch %+v", s.Switches)
	}
	vm := s.Ports[0]
	if vm.Kind != PortVM || vm.VM == nil || vm.VM.MAC != "52:54:00:aa:bb:01" || vm.VM.UUID != "vm-1" {
		t.Fatalf("VM port %+v", vm)
	}
	if p := s.Ports[1]; p.Kind != PortPatch || p.PatchPeer != "patch-to-02" {
		t.Fatalf("patch port %+v", p)
	}
	if p := s.Ports[2]; p.Kind != PortTunnel || p.Tunnel == nil || p.Tunnel.RemoteIP != "192.0.2.20" || p.Tunnel.Type != "vxlan" {
		t.Fatalf("tunnel port %+v", p)
	}
	if h := s.Hypervisors[0]; h.SystemID != "sys-1" || !h.Connected || h.TunnelIP != "192.0.2.10" {
		t.Fatalf("hypervisor %+v", h)
	}
	if s.Revision != 3 {
		t.Fatalf("revision %d after three changes", s.Revision)
	}
	// Events: every one carries its revision, in order.
	var last uint64
	n := 0
	for _, e := range readAll(t, cur) {
		if e.Revision < last {
			t.Fatalf("event revisions went back: %d after %d", e.Revision, last)
		}
		last = e.Revision
		n++
	}
	if n == 0 || last != 3 {
		t.Fatalf("%d events, last revision %d", n, last)
	}
	// Nothing changes: no new revision.
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	if top.Snapshot().Revision != 3 {
		t.Fatal("an identical report bumped the revision")
	}
}

func TestPortEventsAndDisconnect(t *testing.T) {
	top := New()
	top.SwitchConnected(0xc1, "r", []OFPort{{No: 1, Name: "p1", Up: true}})
	cur := top.Follow()
	top.PortChanged(0xc1, OFPort{No: 1, Name: "p1", Up: false}, false)
	events := readAll(t, cur)
	if len(events) != 1 {
		t.Fatalf("%d events for one port change", len(events))
	}
	if e := events[0]; e.Kind != KindPort || e.Type != Changed || e.Object.(Port).Up {
		t.Fatalf("event %+v, want port changed to down", e)
	}
	top.PortChanged(0xc1, OFPort{No: 1, Name: "p1"}, true)
	if events := readAll(t, cur); len(events) != 1 || events[0].Type != Removed {
		t.Fatalf("events %+v, want one: port removed", events)
	}
	top.SwitchDisconnected(0xc1)
	if s := top.Snapshot(); len(s.Switches) != 1 || s.Switches[0].Connected {
		t.Fatalf("switches %+v, want one, disconnected", s.Switches)
	}
}

// Switch finds one switch by datapath id, as the snapshot has it.
func TestSwitchLookup(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	for _, d := range []uint64{0xc3, 0xc1, 0xc2} {
		top.SwitchConnected(d, "192.0.2.10:40000", nil)
	}
	if sw, ok := top.Switch(0xc1); !ok || sw.Hypervisor != "kvm01" || sw.Bridge != "vswitch02" {
		t.Fatalf("0xc1: %+v %v, want kvm01/vswitch02", sw, ok)
	}
	if sw, ok := top.Switch(0xc3); !ok || sw.Hypervisor != "" {
		t.Fatalf("0xc3: %+v %v, want an unclaimed switch", sw, ok)
	}
	if _, ok := top.Switch(0xc4); ok {
		t.Fatal("found a switch that never connected")
	}
}
