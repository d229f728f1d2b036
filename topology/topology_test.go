package topology

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/loomsdn/loom/internal/eventlog"

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
	if e := events[0]; e.Kind != "port" || e.Type != Changed || e.Object.(Port).Up {
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

func TestRestoreReproducesTheModel(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	top.SetLink(NewLink(Endpoint{0xc2, 1}, Endpoint{0xc1, 2}), true)
	data, err := top.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	before := top.Snapshot()

	again := New()
	if err := again.Restore(data); err != nil {
		t.Fatal(err)
	}
	after := again.Snapshot()
	if after.Revision <= before.Revision || len(after.Ports) != 1 || after.Ports[0].VM == nil || len(after.Links) != 1 {
		t.Fatalf("restored %+v\nwas %+v", after, before)
	}
	if after.Switches[0].Connected || after.Hypervisors[0].Connected {
		t.Fatal("restored objects claim to be connected")
	}
	if l := after.Links[0]; l.A.DPID != 0xc1 {
		t.Fatalf("link not in canonical order: %+v", l)
	}
	// A watcher resuming from a revision of the previous run (here the
	// last one saved) must list again: none of its events are kept.
	if _, err := again.Watch(before.Revision); !errors.Is(err, ErrRevisionGone) {
		t.Fatalf("resume across a restart: %v, want ErrRevisionGone", err)
	}
	if err := again.Restore([]byte("{not json")); err == nil {
		t.Fatal("garbage restored")
	}
}

func TestWatchResumesWithoutGapsOrRepeats(t *testing.T) {
	top := New()
	for i := uint64(1); i <= 5; i++ {
		top.SwitchConnected(i, "r", nil)
	}
	cur, err := top.Watch(2)
	if err != nil {
		t.Fatal(err)
	}
	replay := readAll(t, cur)
	if len(replay) != 3 || replay[0].Revision != 3 || replay[2].Revision != 5 {
		t.Fatalf("replay %+v, want revisions 3..5", replay)
	}
	top.SwitchConnected(6, "r", nil)
	<-cur.Ready()
	if live := readAll(t, cur); len(live) != 1 || live[0].Revision != 6 {
		t.Fatalf("live events %+v, want one of revision 6", live)
	}
	if now, err := top.Watch(0); err != nil || len(readAll(t, now)) != 0 {
		t.Fatalf("watch from now replayed, or %v", err)
	}
	if _, err := top.Watch(7); err == nil {
		t.Fatal("a watch from a revision ahead of the model was accepted")
	}
}

func TestWatchFromAForgottenRevisionFails(t *testing.T) {
	top := New()
	top.log = eventlog.New(5, func(e Event) uint64 { return e.Revision })
	for i := 0; i < 20; i++ { // the log holds up to twice keep
		top.SwitchConnected(uint64(i+1), "r", nil)
	}
	if _, err := top.Watch(1); !errors.Is(err, ErrRevisionGone) {
		t.Fatalf("got %v, want ErrRevisionGone", err)
	}
}

// The per-switch path must agree with a full recompute.
func TestSwitchUpdatesMatchAFullRecompute(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	for d := uint64(0xc5); d >= 0xc0; d-- {
		top.SwitchConnected(d, "192.0.2.10:40000", []OFPort{{No: 2, Name: "patch-to-01", Up: true}, {No: 1, Name: "centos01_port1", Up: true}})
	}
	top.PortChanged(0xc1, OFPort{No: 1, Name: "centos01_port1"}, false)
	top.PortChanged(0xc2, OFPort{No: 2, Name: "patch-to-01"}, true)
	top.PortChanged(0xc3, OFPort{No: 9, Name: "new", Up: true}, false)
	top.SwitchDisconnected(0xc4)
	top.mu.Lock()
	want := join(top.in)
	got := top.view
	top.mu.Unlock()
	want.Revision = got.Revision
	if jsonOf(want) != jsonOf(got) {
		t.Fatalf("incremental view:\n%s\nfull recompute:\n%s", jsonOf(got), jsonOf(want))
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
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

// Disconnects in a batch: each applies only to the connection it names,
// so a switch that came back before its old session's disconnect was
// applied stays connected.
func TestBatchedDisconnectsSkipASwitchThatCameBack(t *testing.T) {
	top := New()
	a := top.SwitchConnected(0xa, "192.0.2.1:1", nil)
	b := top.SwitchConnected(0xb, "192.0.2.1:2", nil)
	top.SwitchConnected(0xb, "192.0.2.1:3", nil) // 0xb reconnected: b is stale
	rev := top.Revision()
	top.SwitchesDisconnected(map[uint64]uint64{0xa: a, 0xb: b, 0xc: 1})
	sa, _ := top.Switch(0xa)
	sb, _ := top.Switch(0xb)
	if sa.Connected || !sb.Connected {
		t.Fatalf("after the batch: 0xa connected=%v (want false), 0xb connected=%v (want true)", sa.Connected, sb.Connected)
	}
	if top.Revision() != rev+1 {
		t.Fatalf("revision %d -> %d, want one change", rev, top.Revision())
	}
}
