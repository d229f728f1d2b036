package tunnel

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// site is n hypervisors, each with one VM bridge (dpid 0xc0+i) holding
// Loom's tunnel port (1) and the VMs given, by name: "b..." in blue
// (VLAN 10, VNI 5010), "r..." in red (VLAN 20, VNI 5020).
func site(vms ...[]string) topology.Snapshot {
	var s topology.Snapshot
	for i, names := range vms {
		hv, dpid := fmt.Sprintf("hv%d", i+1), uint64(0xc1+i)
		s.Hypervisors = append(s.Hypervisors, topology.Hypervisor{Name: hv, TunnelIP: fmt.Sprintf("10.0.%d.%d", (i+1)/256, (i+1)%256), Connected: true})
		s.Switches = append(s.Switches, topology.Switch{DPID: dpid, Hypervisor: hv, Connected: true})
		s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: 1, Name: "loom-vxlan", Kind: topology.PortTunnel, Tunnel: &topology.Tunnel{Type: "vxlan"}})
		for j, name := range names {
			s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: uint32(2 + j), Name: name, Kind: topology.PortVM,
				VM: &topology.VM{MAC: fmt.Sprintf("02:00:00:%02x:%02x:%02x", (i+1)>>8, (i+1)&0xff, j+1)}})
		}
	}
	return s
}

func policy(t testing.TB) *network.Policy {
	t.Helper()
	p, err := network.Compile(network.Spec{Networks: []network.Network{
		{Name: "blue", VLAN: 10, VNI: 5010, Ports: []string{"b*"}},
		{Name: "red", VLAN: 20, VNI: 5020, Ports: []string{"r*"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func always(string) bool { return true }

func TestFlowsReachOnlyMembersOfTheSwitchsNetworks(t *testing.T) {
	snap := site([]string{"b1"}, []string{"b2", "r2"}, []string{"r3"})
	p := policy(t)
	m := buildMesh(snap, p, 0xc1, always)
	got := apptest.Text(Flows(m, p))
	want := strings.Join([]string{
		"table=0, priority=100,in_port=1,tun_id=0x1392 actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1",
		"table=0, priority=200,in_port=1,tun_id=0xffffff actions=CONTROLLER:65535",
		"table=3, priority=90,in_port=1,dl_vlan=10 actions=goto_table:4",
		"table=4, priority=90,dl_dst=02:00:00:00:02:01,dl_vlan=10 actions=pop_vlan,set_field:0x1392->tun_id,set_field:10.0.0.2->tun_dst,output:1",
	}, "\n")
	if got != want {
		t.Fatalf("hv1 (blue only) got\n%s\nwant\n%s", got, want)
	}
	// Blue floods reach hv2 only; hv3 has no blue port.
	if ips := m.members[10]; len(ips) != 1 || ips[0].String() != "10.0.0.2" {
		t.Fatalf("blue members seen from hv1: %v", ips)
	}
	if peers := m.peers; len(peers) != 2 {
		t.Fatalf("peers: %v", peers)
	}
}

func TestAGoneHypervisorLeavesTheMesh(t *testing.T) {
	snap := site([]string{"b1"}, []string{"b2"})
	p := policy(t)
	gone := func(hv string) bool { return hv != "hv2" }
	m := buildMesh(snap, p, 0xc1, gone)
	if len(m.peers) != 0 || len(m.members[10]) != 0 || len(m.macs[10]) != 0 {
		t.Fatalf("a gone hypervisor is still in the mesh: %+v", m)
	}
	if buildMesh(snap, p, 0xc1, always).sum() == m.sum() {
		t.Fatal("the membership hash does not change when a peer leaves")
	}
}

func TestSumIsStable(t *testing.T) {
	snap := site([]string{"b1", "r1"}, []string{"b2", "r2"}, []string{"b3", "r3"})
	p := policy(t)
	first := buildMesh(snap, p, 0xc1, always).sum()
	for i := 0; i < 50; i++ {
		if buildMesh(snap, p, 0xc1, always).sum() != first {
			t.Fatal("the same view hashes differently: every tick would refresh every switch")
		}
	}
}

func TestProbeRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 42)
	from, to, sent, ok := parseProbe(probeFrame("hv1", "hv2", now))
	if !ok || from != "hv1" || to != "hv2" || !sent.Equal(now) {
		t.Fatalf("got %q %q %v %v", from, to, sent, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 20), probeFrame("hv1", "hv2", now)[:30]} {
		if _, _, _, ok := parseProbe(bad); ok {
			t.Fatalf("parsed %x", bad)
		}
	}
}
