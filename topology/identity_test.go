package topology

import (
	"testing"

	"github.com/loomsdn/loom/ovsdb"
)

// A second OVSDB listing a bound datapath id changes nothing: the first
// claimant keeps it in every recompute (not whatever map order gives),
// the dpid is reported as contested, and when the first lets go the
// other takes over.
func TestFirstClaimantKeepsTheDatapathID(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	evil := &ovsdb.Hypervisor{Bridges: []ovsdb.Bridge{{Name: "br", DPID: 0xc1, Ports: []ovsdb.Port{{Name: "centos01_port1", Tag: 99}}}}}
	for i := 0; i < 50; i++ { // enough recomputes for map order to show
		top.OVSDBState("192.0.2.66", "tcp:192.0.2.66:6640", evil, nil)
		p, ok := top.Port(0xc1, 1)
		if !ok || p.Tag != 0 || p.Kind != PortVM {
			t.Fatalf("round %d: the port took the newcomer's word: %+v", i, p)
		}
	}
	b := top.Bind(0xc1)
	if b.Hypervisor != "kvm01" || !b.Identified || !b.Contested() || b.Claimants[1] != "192.0.2.66" {
		t.Fatalf("binding %+v", b)
	}
	if c := top.Conflicts(); len(c) != 1 || c[0].DPID != 0xc1 || c[0].Claimants[0] != "kvm01" {
		t.Fatalf("conflicts %+v", c)
	}
	// It survives a restart: the claims are persisted.
	data, _ := top.Marshal()
	again := New()
	if err := again.Restore(data); err != nil {
		t.Fatal(err)
	}
	if b := again.Bind(0xc1); b.Hypervisor != "kvm01" {
		t.Fatalf("binding after restore %+v", b)
	}
	// The first claimant's bridge goes: the other's claim stands alone.
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", &ovsdb.Hypervisor{}, nil)
	if b := top.Bind(0xc1); b.Hypervisor != "192.0.2.66" || b.Contested() {
		t.Fatalf("binding after the first claimant let go %+v", b)
	}
	if len(top.Conflicts()) != 0 {
		t.Fatal("still a conflict")
	}
}

// A session from elsewhere than the bound hypervisor gets its OpenFlow
// ports only: the OVSDB's tags and VM identities are not applied.
func TestOVSDBViewCountsOnlyForSessionsFromItsHost(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640", TunnelIP: "198.51.100.10"}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	for _, c := range []struct {
		remote string
		want   bool
	}{
		{"192.0.2.10:40000", true},      // the OVSDB endpoint's host
		{"198.51.100.10:40000", true},   // the configured tunnel IP
		{"[::ffff:192.0.2.10]:1", true}, // v4-mapped
		{"192.0.2.66:40000", false},
		{"unix:/run/loom.sock", false}, // the OVSDB is remote: a local peer is not that host
		{"garbage", false},
	} {
		top.SwitchConnected(0xc1, c.remote, []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
		p, _ := top.Port(0xc1, 1)
		if got := p.Kind == PortVM; got != c.want {
			t.Errorf("session from %s: port %+v, OVSDB view applied=%v, want %v", c.remote, p, got, c.want)
		}
		if b := top.Bind(0xc1); b.Identified != c.want {
			t.Errorf("session from %s: identified=%v", c.remote, b.Identified)
		}
	}
	// Local sessions (unix, loopback) go with local OVSDBs (unix,
	// loopback): loomd on the hypervisor, or a lab on one machine.
	for _, c := range []struct {
		ovsdb, remote string
		want          bool
	}{
		{"unix:/run/db.sock", "unix:/run/loom.sock", true},
		{"unix:/run/db.sock", "127.0.0.1:40000", true},
		{"tcp:127.0.0.1:6640", "unix:/run/loom.sock", true},
		{"tcp:127.0.0.1:6640", "[::1]:40000", true},
		{"unix:/run/db.sock", "192.0.2.66:40000", false},
		{"tcp:127.0.0.1:6640", "192.0.2.66:40000", false},
	} {
		top := New()
		top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: c.ovsdb}})
		top.OVSDBState("kvm01", c.ovsdb, hvView(), nil)
		top.SwitchConnected(0xc1, c.remote, []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
		if p, _ := top.Port(0xc1, 1); (p.Kind == PortVM) != c.want {
			t.Errorf("OVSDB %s, session from %s: %+v, want applied=%v", c.ovsdb, c.remote, p, c.want)
		}
	}
}

// A discovered hypervisor's OVSDB naming someone else's address as its
// tunnel IP gains nothing: only configured hypervisors' OVSDBs are
// believed about their addresses.
func TestDiscoveredOVSDBCannotClaimAnAddress(t *testing.T) {
	top := New()
	v := hvView()
	v.TunnelIP = "192.0.2.10"
	top.OVSDBState("192.0.2.66", "tcp:192.0.2.66:6640", v, nil)
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
	if p, _ := top.Port(0xc1, 1); p.Kind == PortVM {
		t.Fatalf("a discovered OVSDB's tunnel IP identified a session from elsewhere: %+v", p)
	}
}
