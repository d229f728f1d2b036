package ovsdb

import (
	"testing"

	"github.com/ovn-org/libovsdb/model"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// A row the bridge refers to that the view does not hold yet is marked
// unread (so nothing acts on its column: acting would add the row again
// on every pass); a Loom row is read whole, anyone else's by name only.
func TestReadAttachedMarksRowsTheViewLacks(t *testing.T) {
	mine := &vswitch.Mirror{UUID: "m1", Name: "loom-m", ExternalIDs: map[string]string{ownerKey: "mirrors"}}
	theirs := &vswitch.Mirror{UUID: "m2", Name: "ops"}
	rows := map[string]model.Model{"m1": mine, "m2": theirs}
	sflow := "s1"
	b := &vswitch.Bridge{Name: "br", Mirrors: []string{"m1", "m2", "m3"}, Sflow: &sflow}
	var br Bridge
	readAttached(&br, b, func(_, uuid string) model.Model {
		if m, ok := rows[uuid]; ok {
			return m
		}
		return nil
	})
	got := map[string]AttachedRow{}
	for _, r := range br.Attached["mirrors"] {
		got[r.UUID] = r
	}
	if r := got["m1"]; r.Owner != "mirrors" || r.Key != "loom-m" || r.Row == nil || r.Unread {
		t.Errorf("Loom's mirror: %+v", r)
	}
	if r := got["m2"]; r.Owner != "" || r.Key != "ops" || r.Row != nil || r.Unread {
		t.Errorf("the operator's mirror: %+v", r)
	}
	if r := got["m3"]; !r.Unread {
		t.Errorf("a mirror the view lacks: %+v, want unread", r)
	}
	if s := br.Attached["sflow"]; len(s) != 1 || !s[0].Unread {
		t.Errorf("an sFlow row the view lacks: %+v", s)
	}
}

// Rows compare by what Loom writes: not by order of sets, nor by OVS's
// own statistics.
func TestSameRowIgnoresSetOrderAndStatistics(t *testing.T) {
	out := "p3"
	a := &vswitch.Mirror{Name: "m", SelectSrcPort: []string{"p1", "p2"}, SelectVLAN: []int{20, 10}, OutputPort: &out,
		Statistics: map[string]int{"tx_packets": 5}, UUID: "x", ExternalIDs: map[string]string{ownerKey: "a"}}
	b := &vswitch.Mirror{Name: "m", SelectSrcPort: []string{"p2", "p1"}, SelectVLAN: []int{10, 20}, OutputPort: &out}
	if !SameRow(a, b) {
		t.Fatal("the same mirror compares different")
	}
	other := "p4"
	b.OutputPort = &other
	if SameRow(a, b) {
		t.Fatal("mirrors to different ports compare equal")
	}
}
