package tunnel

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// fabric is a random site the equivalence test mutates: hypervisors with
// one VM bridge each, VMs on them (by port name: b... blue, r... red,
// g... green, a network without a VNI), MACs learned behind ports.
type fabric struct {
	hvs map[int]*fabricHV
}

type fabricHV struct {
	ip      int  // last octet of its tunnel IP
	tunnel  bool // Loom's tunnel port is there
	ports   []fabricPort
	learned []fabricHost
}

type fabricPort struct {
	name, mac string
}

type fabricHost struct {
	port int // index into ports
	mac  string
}

func (f *fabric) snapshot(rev uint64) topology.Snapshot {
	s := topology.Snapshot{Revision: rev}
	for i := 0; i < 16; i++ {
		h := f.hvs[i]
		if h == nil {
			continue
		}
		name, dpid := fmt.Sprintf("hv%d", i), uint64(0xc0+i)
		s.Hypervisors = append(s.Hypervisors, topology.Hypervisor{Name: name, TunnelIP: fmt.Sprintf("10.0.0.%d", h.ip), Connected: true})
		s.Switches = append(s.Switches, topology.Switch{DPID: dpid, Hypervisor: name, Connected: true})
		if h.tunnel {
			s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: 1, Name: "loom-vxlan", Kind: topology.PortTunnel, Tunnel: &topology.Tunnel{Type: "vxlan"}})
		}
		for j, p := range h.ports {
			s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: uint32(2 + j), Name: p.name, Kind: topology.PortVM, VM: &topology.VM{MAC: p.mac}})
		}
		for _, l := range h.learned {
			if l.port < len(h.ports) {
				s.Hosts = append(s.Hosts, topology.Host{MAC: l.mac, DPID: dpid, Port: uint32(2 + l.port)})
			}
		}
	}
	return s
}

// mutate makes one random change of the kinds that happen often.
func (f *fabric) mutate(r *rand.Rand) string {
	i := r.Intn(16)
	h := f.hvs[i]
	mac := func() string { return fmt.Sprintf("02:00:00:00:%02x:%02x", r.Intn(4), r.Intn(40)) } // few: collisions are moves
	net := []string{"b", "r", "g"}[r.Intn(3)]
	switch k := r.Intn(10); {
	case h == nil:
		f.hvs[i] = &fabricHV{ip: 1 + i, tunnel: r.Intn(5) > 0}
		return "hypervisor joins"
	case k == 0:
		delete(f.hvs, i)
		return "hypervisor leaves"
	case k == 1:
		h.tunnel = !h.tunnel
		return "tunnel port toggles"
	case k == 2:
		h.ip = 100 + r.Intn(50)
		return "tunnel IP changes"
	case k <= 5:
		h.ports = append(h.ports, fabricPort{name: fmt.Sprintf("%s%d", net, r.Intn(1000)), mac: mac()})
		return "VM plugged (maybe a MAC moving in)"
	case k == 6 && len(h.ports) > 0:
		j := r.Intn(len(h.ports))
		h.ports = append(h.ports[:j], h.ports[j+1:]...)
		return "VM unplugged"
	case k == 7 && len(h.ports) > 0:
		h.learned = append(h.learned, fabricHost{port: r.Intn(len(h.ports)), mac: mac()})
		return "MAC learned"
	case k == 8 && len(h.learned) > 0:
		h.learned = h.learned[1:]
		return "MAC aged out"
	default:
		return "nothing"
	}
}

func equivalencePolicies(t *testing.T) []*network.Policy {
	t.Helper()
	var out []*network.Policy
	for _, spec := range []network.Spec{
		{Networks: []network.Network{
			{Name: "blue", VLAN: 10, VNI: 5010, Ports: []string{"b*"}},
			{Name: "red", VLAN: 20, VNI: 5020, Ports: []string{"r*"}},
			{Name: "green", VLAN: 30, Ports: []string{"g*"}},
		}},
		{Networks: []network.Network{
			{Name: "blue", VLAN: 10, VNI: 6010, Ports: []string{"b*"}},
			{Name: "green", VLAN: 30, VNI: 5030, Ports: []string{"g*"}},
		}},
	} {
		p, err := network.Compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// sameMembers says whether a members view says what a full view does.
func sameMembers(mv, ref mesh) bool {
	var peers []peer
	mv.eachPeer(func(p peer) { peers = append(peers, p) })
	if len(peers) != len(ref.peers) || (len(peers) > 0 && !reflect.DeepEqual(peers, ref.peers)) || !reflect.DeepEqual(mv.here, ref.here) {
		return false
	}
	for vid := range ref.here {
		if got, want := mv.membersOf(vid), ref.members[vid]; len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			return false
		}
	}
	return true
}

// The incremental recompute always declares what the full one would: on
// random sequences of joins, leaves, VM plugs and moves, learned MACs,
// tunnel and address changes, liveness flips and policy reloads, with
// each step refreshing a random part of the switches (so some lag many
// indexes behind, some beyond the history), every refreshed switch's
// declarations equal Flows over its whole view.
func TestIncrementalEqualsFullRecompute(t *testing.T) {
	pols := equivalencePolicies(t)
	for seed := int64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewSource(seed))
		f := &fabric{hvs: map[int]*fabricHV{}}
		for i := 0; i < 8; i++ {
			f.mutate(r)
		}
		a := New(Options{})
		ctxs := map[uint64]*apptest.Ctx{}
		p := pols[0]
		dead := map[string]bool{}
		alive := func(hv string) bool { return !dead[hv] }
		incremental := 0
		for step := 0; step < 150; step++ {
			what := f.mutate(r)
			switch r.Intn(20) {
			case 0:
				p = pols[r.Intn(len(pols))]
				what += ", policy reloaded"
			case 1:
				hv := fmt.Sprintf("hv%d", r.Intn(16))
				dead[hv] = !dead[hv]
				what += ", " + hv + " liveness flips"
			}
			x := buildIndex(f.snapshot(uint64(step+1)), p)
			a.idxMu.Lock()
			a.addIndex(x, p)
			a.idxMu.Unlock()
			for _, sw := range f.snapshot(0).Switches {
				if r.Intn(3) != 0 && step%70 != 0 {
					continue // this one lags behind
				}
				ctx := ctxs[sw.DPID]
				if ctx == nil {
					ctx = apptest.New()
					ctxs[sw.DPID] = ctx
				}
				a.mu.Lock()
				last := a.declared[sw.DPID]
				a.mu.Unlock()
				l := x.liveFrom(alive)
				a.refreshWith(ctx, sw.DPID, x, p, l)
				if mv, ref := x.members(sw.DPID, l), x.viewOf(sw.DPID, l, false); !sameMembers(mv, ref) {
					t.Fatalf("seed %d step %d (%s), switch 0x%x: members view %+v, the full view's %+v", seed, step, what, sw.DPID, mv, ref)
				}
				if _, _, ok := a.changedSince(last, a.declared[sw.DPID]); ok {
					incremental++
				}
				want := apptest.Text(Flows(x.view(sw.DPID, x.liveFrom(alive)), p))
				if got := ctx.Text(); got != want {
					t.Fatalf("seed %d step %d (%s), switch 0x%x: incremental declares\n%s\nfull recompute wants\n%s", seed, step, what, sw.DPID, got, want)
				}
			}
		}
		if incremental == 0 {
			t.Fatalf("seed %d: no refresh was incremental: the test compares the full recompute with itself", seed)
		}
	}
}
