package topology

import (
	"errors"
	"strings"
	"testing"
	"time"
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

// The stored form is a file format: a file as an older Loom wrote it (no
// claims, no links, hosts or configured hypervisors) still restores, its
// dpid bound to the OVSDB that lists it, and the restored model takes
// every kind of input.
func TestRestoreAnOlderFile(t *testing.T) {
	old := `{"revision":7,"inputs":{
		"ovsdb":{"kvm01":{"endpoint":"tcp:192.0.2.10:6640","connected":true,"view":{"Name":"kvm01",
			"Bridges":[{"Name":"vswitch02","DPID":193,"Ports":[{"Name":"centos01_port1","OfPort":1,"AttachedMAC":"52:54:00:aa:bb:01"}]}]}}},
		"switches":{"193":{"remote":"192.0.2.10:40000","connected":true,"ports":{"1":{"no":1,"name":"centos01_port1","up":true}}}}}}`
	top := New()
	if err := top.Restore([]byte(old)); err != nil {
		t.Fatal(err)
	}
	if b := top.Bind(0xc1); b.Hypervisor != "kvm01" || b.Bridge != "vswitch02" || len(b.Claimants) != 1 {
		t.Fatalf("binding %+v, want 0xc1 bound to kvm01/vswitch02", b)
	}
	p, ok := top.Port(0xc1, 1)
	if !ok || p.Kind != PortVM || p.VM.MAC != "52:54:00:aa:bb:01" || p.Up {
		t.Fatalf("port %+v %v, want a VM port, down until its switch reconnects", p, ok)
	}
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.SetLink(NewLink(Endpoint{0xc1, 1}, Endpoint{0xc2, 1}), true)
	top.HostSeen("02:00:00:00:00:01", 0xc1, 1, "", time.Unix(1, 0))
	if s := top.Snapshot(); len(s.Hypervisors) != 1 || len(s.Links) != 1 || len(s.Hosts) != 1 {
		t.Fatalf("after restore the model took %d hypervisors, %d links, %d hosts; want one each", len(s.Hypervisors), len(s.Links), len(s.Hosts))
	}
	data, err := top.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"revision":`, `"inputs":`, `"configured":`, `"ovsdb":`, `"switches":`, `"links":`, `"hosts":`, `"claims":{"193":["kvm01"]}`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("stored form lacks %s: %s", key, data)
		}
	}
}
