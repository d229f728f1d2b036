package controller

import (
	"testing"

	"github.com/loomsdn/loom/topology"
)

// Only changes that can change flows trigger a refresh of every switch: a
// host's last-seen refresh or new IP, on the packet-in path, must not.
func TestOnlyFlowRelevantTopologyEventsRefresh(t *testing.T) {
	at := map[string]topology.Endpoint{}
	host := func(typ topology.EventType, dpid uint64, port uint32) topology.Event {
		return topology.Event{Kind: topology.KindHost, Key: "02:00:00:00:00:01", Type: typ, Object: topology.Host{MAC: "02:00:00:00:00:01", DPID: dpid, Port: port}}
	}
	steps := []struct {
		ev   topology.Event
		want bool
	}{
		{host(topology.Added, 1, 1), true},
		{host(topology.Changed, 1, 1), false}, // last seen, or an IP
		{host(topology.Changed, 1, 2), true},  // moved
		{host(topology.Changed, 1, 2), false},
		{host(topology.Removed, 0, 0), true},
		{host(topology.Added, 1, 2), true}, // back after going
		{topology.Event{Kind: topology.KindLink}, false},
		{topology.Event{Kind: topology.KindPort}, true},
		{topology.Event{Kind: topology.KindSwitch}, true},
		{topology.Event{Kind: topology.KindHypervisor}, true},
	}
	for i, s := range steps {
		if got := mattersToApps(s.ev, at); got != s.want {
			t.Errorf("step %d (%s %s): refresh=%v, want %v", i, s.ev.Kind, s.ev.Type, got, s.want)
		}
	}
}

// A switch no hypervisor claims, and a port OVSDB knows nothing of,
// refresh only their own switch; anything a hypervisor's bridge reports
// refreshes every switch (the tunnel mesh spans them).
func TestRefreshScopeOfTopologyEvents(t *testing.T) {
	for _, c := range []struct {
		name  string
		ev    topology.Event
		local bool
	}{
		{"unclaimed switch", topology.Event{Kind: topology.KindSwitch, Object: topology.Switch{DPID: 7}}, true},
		{"claimed switch", topology.Event{Kind: topology.KindSwitch, Object: topology.Switch{DPID: 7, Hypervisor: "kvm01", Bridge: "vswitch02"}}, false},
		{"plain port", topology.Event{Kind: topology.KindPort, Object: topology.Port{DPID: 7, No: 1, Name: "p1"}}, true},
		{"VM port", topology.Event{Kind: topology.KindPort, Object: topology.Port{DPID: 7, No: 1, Kind: topology.PortVM, VM: &topology.VM{MAC: "52:54:00:00:00:01"}}}, false},
		{"tagged port", topology.Event{Kind: topology.KindPort, Object: topology.Port{DPID: 7, No: 1, Tag: 10}}, false},
		{"tunnel port", topology.Event{Kind: topology.KindPort, Object: topology.Port{DPID: 7, No: 1, Tunnel: &topology.Tunnel{Type: "vxlan"}}}, false},
		{"hypervisor", topology.Event{Kind: topology.KindHypervisor, Object: topology.Hypervisor{Name: "kvm01"}}, false},
		{"host", topology.Event{Kind: topology.KindHost, Object: topology.Host{MAC: "02:00:00:00:00:01", DPID: 7}}, false},
	} {
		dpid, local := ownSwitchOnly(c.ev)
		if local != c.local || local && dpid != 7 {
			t.Errorf("%s: own switch only=%v (dpid %d), want %v", c.name, local, dpid, c.local)
		}
	}
}

// A storm of unclaimed switches connecting and leaving refreshes nothing
// (setup computed each from the ports its events carry); a later port
// change refreshes that switch only; anything a hypervisor claims, all.
func TestRefreshScopeOfABurst(t *testing.T) {
	top := topology.New()
	cur := top.Follow()
	for d := uint64(1); d <= 50; d++ {
		top.SwitchConnected(d, "192.0.2.99:1", []topology.OFPort{{No: 1, Name: "p1", Up: true}, {No: 2, Name: "p2", Up: true}})
	}
	top.SwitchDisconnected(7)
	top.PortChanged(9, topology.OFPort{No: 1, Name: "p1", Up: false}, false)
	scope := newRefreshScope()
	var needed int
	for {
		events, err := cur.Read()
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			break
		}
		for _, ev := range events {
			if scope.note(ev) {
				needed++
			}
		}
	}
	all, dpids := scope.take()
	if all || len(dpids) != 1 || dpids[0] != 9 || needed != 1 {
		t.Fatalf("refresh all=%v of %v (%d events needed one), want switch 9 alone", all, dpids, needed)
	}
	scope.note(topology.Event{Kind: topology.KindHypervisor, Object: topology.Hypervisor{Name: "kvm01"}})
	if all, _ := scope.take(); !all {
		t.Fatal("a hypervisor's change did not refresh every switch")
	}
}
