package topology

import (
	"errors"
	"testing"
)

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
