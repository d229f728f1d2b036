package topology

import (
	"encoding/json"
	"testing"
)

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
