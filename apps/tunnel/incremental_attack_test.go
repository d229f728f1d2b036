package tunnel

import (
	"sync"
	"time"

	"fmt"
	"math/rand"
	"testing"

	"github.com/loomsdn/loom/apps"

	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// attackApp is an app fed indexes by hand (no topology).
type attackApp struct {
	t   *testing.T
	a   *App
	p   *network.Policy
	rev uint64
}

func newAttackApp(t *testing.T, p *network.Policy) *attackApp {
	return &attackApp{t: t, a: New(Options{}), p: p}
}

// index builds and installs the index of snap, as current would.
func (h *attackApp) index(snap topology.Snapshot) *index {
	h.rev++
	snap.Revision = h.rev
	x := buildIndex(snap, h.p)
	h.a.idxMu.Lock()
	h.a.addIndex(x, h.p)
	h.a.idxMu.Unlock()
	return x
}

// refresh refreshes dpid under x (everyone alive) and checks the
// declarations against the full recompute.
func (h *attackApp) refresh(ctx *apptest.Ctx, dpid uint64, x *index, what string) {
	h.t.Helper()
	l := x.liveFrom(always)
	h.a.refreshWith(ctx, dpid, x, h.p, l)
	want := apptest.Text(Flows(x.view(dpid, l), h.p))
	if got := ctx.Text(); got != want {
		h.t.Fatalf("%s, switch 0x%x: incremental declares\n%s\nfull recompute wants\n%s", what, dpid, got, want)
	}
}

// A hypervisor whose tunnel IP goes away (unset, or not IPv4) while its
// switch keeps its tunnel port: the switch's refresh is a full one and
// declares nothing (noMesh). When the IP comes back, the switch's own
// hypervisor, port and networks are what declaredMesh recorded, so the
// refresh is incremental: it applies only the MACs that changed, and the
// from-tunnel classification, the learning bypass and every other
// peer's remote MAC are never declared again.
func TestAttackLocalIPLostAndBack(t *testing.T) {
	for _, bad := range []string{"", "fe80::1", "not-an-ip"} {
		t.Run(fmt.Sprintf("ip=%q", bad), func(t *testing.T) {
			h := newAttackApp(t, policy(t))
			snap := site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"})
			ctx := apptest.New()
			h.refresh(ctx, 0xc1, h.index(snap), "start")
			lost := site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"})
			lost.Hypervisors[0].TunnelIP = bad
			h.refresh(ctx, 0xc1, h.index(lost), "hv1 loses its tunnel IP")
			h.refresh(ctx, 0xc1, h.index(snap), "hv1's tunnel IP is back")
		})
	}
	// The same when the hypervisor's record goes (its switch still names
	// it) and comes back.
	h := newAttackApp(t, policy(t))
	snap := site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"})
	ctx := apptest.New()
	h.refresh(ctx, 0xc1, h.index(snap), "start")
	gone := site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"})
	gone.Hypervisors = gone.Hypervisors[1:]
	h.refresh(ctx, 0xc1, h.index(gone), "hv1's record goes")
	h.refresh(ctx, 0xc1, h.index(snap), "hv1's record is back")
}

// wildFabric is a site with what the equivalence test's fabric never
// makes: several switches per hypervisor (not all with the tunnel port),
// switches moving between hypervisors, hypervisors renamed, tunnel IPs
// shared by two hypervisors, unset, IPv6 or garbage.
type wildFabric struct {
	hvs [6]*wildHV
	sws [10]*wildSwitch
}

type wildHV struct {
	name string
	ip   string
}

type wildSwitch struct {
	hv      int // slot in hvs; -1: none
	tunnel  bool
	ports   []fabricPort
	learned []fabricHost
}

func (f *wildFabric) snapshot() topology.Snapshot {
	var s topology.Snapshot
	for _, h := range f.hvs {
		if h != nil {
			s.Hypervisors = append(s.Hypervisors, topology.Hypervisor{Name: h.name, TunnelIP: h.ip, Connected: true})
		}
	}
	for i, sw := range f.sws {
		if sw == nil {
			continue
		}
		dpid := uint64(0xd0 + i)
		hv := ""
		if sw.hv >= 0 && f.hvs[sw.hv] != nil {
			hv = f.hvs[sw.hv].name
		}
		s.Switches = append(s.Switches, topology.Switch{DPID: dpid, Hypervisor: hv, Connected: true})
		if sw.tunnel {
			s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: 1, Name: "loom-vxlan", Kind: topology.PortTunnel, Tunnel: &topology.Tunnel{Type: "vxlan"}})
		}
		for j, p := range sw.ports {
			s.Ports = append(s.Ports, topology.Port{DPID: dpid, No: uint32(2 + j), Name: p.name, Kind: topology.PortVM, VM: &topology.VM{MAC: p.mac}})
		}
		for _, l := range sw.learned {
			if l.port < len(sw.ports) {
				s.Hosts = append(s.Hosts, topology.Host{MAC: l.mac, DPID: dpid, Port: uint32(2 + l.port)})
			}
		}
	}
	return s
}

func (f *wildFabric) mutate(r *rand.Rand) string {
	ips := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "", "fe80::1", "bogus", "10.0.0.9"}
	mac := func() string { return fmt.Sprintf("02:00:00:00:00:%02x", r.Intn(24)) }
	net := []string{"b", "r", "g"}[r.Intn(3)]
	hi, si := r.Intn(len(f.hvs)), r.Intn(len(f.sws))
	h, sw := f.hvs[hi], f.sws[si]
	switch k := r.Intn(14); {
	case h == nil:
		f.hvs[hi] = &wildHV{name: fmt.Sprintf("hv%d", hi), ip: ips[r.Intn(5)]}
		return "hypervisor joins"
	case sw == nil:
		f.sws[si] = &wildSwitch{hv: r.Intn(len(f.hvs)), tunnel: r.Intn(3) > 0}
		return "switch joins"
	case k == 0:
		f.hvs[hi] = nil
		return "hypervisor leaves"
	case k == 1:
		f.sws[si] = nil
		return "switch leaves"
	case k == 2:
		h.ip = ips[r.Intn(len(ips))]
		return "tunnel IP changes to " + h.ip
	case k == 3:
		h.name = fmt.Sprintf("hv%d-%d", hi, r.Intn(3))
		return "hypervisor renamed " + h.name
	case k == 4:
		sw.hv = r.Intn(len(f.hvs)+1) - 1
		return "switch moves"
	case k == 5:
		sw.tunnel = !sw.tunnel
		return "tunnel port toggles"
	case k <= 8:
		sw.ports = append(sw.ports, fabricPort{name: fmt.Sprintf("%s%d", net, r.Intn(1000)), mac: mac()})
		return "VM plugged"
	case k == 9 && len(sw.ports) > 0:
		j := r.Intn(len(sw.ports))
		sw.ports = append(sw.ports[:j], sw.ports[j+1:]...)
		return "VM unplugged"
	case k == 10 && len(sw.ports) > 0:
		sw.learned = append(sw.learned, fabricHost{port: r.Intn(len(sw.ports)), mac: mac()})
		return "MAC learned"
	case k == 11 && len(sw.learned) > 0:
		sw.learned = sw.learned[1:]
		return "MAC aged out"
	default:
		return "nothing"
	}
}

// wildEquivalence runs the equivalence test's loop over wildFabric. With
// restarts, it also Restores a stale key now and then and forgets
// switches (as the controller does at takeover). With onlyValidIPs, every
// tunnel IP that is not IPv4 is replaced by one that is.
func wildEquivalence(t *testing.T, seeds int, restarts bool, onlyValidIPs bool) {
	pols := equivalencePolicies(t)
	for seed := int64(1); seed <= int64(seeds); seed++ {
		r := rand.New(rand.NewSource(seed))
		f := &wildFabric{}
		for i := 0; i < 20; i++ {
			f.mutate(r)
		}
		a := New(Options{})
		ctxs := map[uint64]*apptest.Ctx{}
		p := pols[0]
		dead := map[string]bool{}
		alive := func(hv string) bool { return !dead[hv] }
		var trail []string
		for step := 0; step < 200; step++ {
			what := f.mutate(r)
			if onlyValidIPs {
				for _, h := range f.hvs {
					if h != nil && (h.ip == "" || h.ip == "fe80::1" || h.ip == "bogus") {
						h.ip = "10.0.0.7"
					}
				}
			}
			switch r.Intn(20) {
			case 0:
				p = pols[r.Intn(len(pols))]
				what += ", policy reloaded"
			case 1:
				hv := fmt.Sprintf("hv%d", r.Intn(len(f.hvs)))
				dead[hv] = !dead[hv]
				what += ", " + hv + " liveness flips"
			}
			snap := f.snapshot()
			snap.Revision = uint64(step + 1)
			x := buildIndex(snap, p)
			a.idxMu.Lock()
			a.addIndex(x, p)
			a.idxMu.Unlock()
			trail = append(trail, what)
			for i := range f.sws {
				dpid := uint64(0xd0 + i)
				if r.Intn(3) != 0 {
					continue
				}
				ctx := ctxs[dpid]
				if ctx == nil {
					ctx = apptest.New()
					ctxs[dpid] = ctx
				}
				if restarts {
					switch r.Intn(15) {
					case 0: // a restart: a stale key comes back from the store
						key := remoteKey(vmac{10, [6]byte{2, 0, 0, 0, 0, 0xee}})
						ctx.Flows[key] = remoteFlow(vmac{10, [6]byte{2, 0, 0, 0, 0, 0xee}}, 5010, x.ips["hv0"], 1)
						a.Restore(dpid, key, ctx.Flows[key])
						trail[len(trail)-1] += fmt.Sprintf(", 0x%x restored", dpid)
					case 1: // a takeover: the app's state and the switch's declarations dropped
						a.ForgetSwitch(dpid)
						ctx = apptest.New()
						ctxs[dpid] = ctx
						trail[len(trail)-1] += fmt.Sprintf(", 0x%x forgotten", dpid)
					}
				}
				l := x.liveFrom(alive)
				a.refreshWith(ctx, dpid, x, p, l)
				want := apptest.Text(Flows(x.view(dpid, l), p))
				if got := ctx.Text(); got != want {
					from := max(0, len(trail)-6)
					t.Fatalf("seed %d step %d, switch 0x%x (hv %q): last changes %q\nincremental declares\n%s\nfull recompute wants\n%s",
						seed, step, dpid, x.hvOf[dpid], trail[from:], got, want)
				}
				// A Tick now must see no change, or it refreshes for ever.
				if s := x.members(dpid, l).sum(); s != a.sums[dpid] {
					t.Fatalf("seed %d step %d, switch 0x%x: Tick's sum %x, the refresh's %x", seed, step, dpid, s, a.sums[dpid])
				}
			}
		}
	}
}

// Wild fabrics with valid IPv4 tunnel IPs only (so the local-IP hole
// above is not what fails): duplicate IPs, renames, moves, two switches
// per hypervisor.
func TestAttackWildFabricValidIPs(t *testing.T) { wildEquivalence(t, 40, false, true) }

// Wild fabrics with any IP.
func TestAttackWildFabricAnyIP(t *testing.T) { wildEquivalence(t, 40, false, false) }

// Wild fabrics (valid IPs), with restores and forgets between refreshes.
func TestAttackWildFabricRestarts(t *testing.T) { wildEquivalence(t, 40, true, true) }

// A switch that lags more than historyLen indexes, and policy reloads
// A→B→A (the pointer is A again at both ends): both must recompute.
func TestAttackLagAndPolicyABA(t *testing.T) {
	pols := equivalencePolicies(t)
	h := newAttackApp(t, pols[0])
	sites := []topology.Snapshot{
		site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"}),
		site([]string{"b1"}, []string{"b2"}, []string{"b3", "r3"}),
		site([]string{"b1", "r1"}, []string{"r2"}, []string{"b3"}),
	}
	ctx, other := apptest.New(), apptest.New()
	h.refresh(ctx, 0xc1, h.index(sites[0]), "start")
	for i := 0; i < historyLen+5; i++ {
		x := h.index(sites[i%len(sites)])
		h.refresh(other, 0xc2, x, fmt.Sprintf("index %d", i))
	}
	h.refresh(ctx, 0xc1, h.index(sites[1]), "after more than historyLen indexes")
	for _, p := range []*network.Policy{pols[1], pols[0], pols[1], pols[1], pols[0]} {
		h.p = p
		x := h.index(sites[1])
		h.refresh(other, 0xc2, x, "policy reload")
	}
	h.p = pols[0]
	h.refresh(ctx, 0xc1, h.index(sites[2]), "A→B→A")
}

// refreshWith on one goroutine while Tick, FloodActions and Peers run on
// others (as the controller's switch goroutines and the API do): run
// with -race.
func TestAttackConcurrentReaders(t *testing.T) {
	top := topology.New()
	p := policy(t)
	a := New(Options{Topology: top, Policy: network.NewHolder(p), Every: time.Hour})
	sites := []topology.Snapshot{
		site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"}),
		site([]string{"b1"}, []string{"b2"}, []string{"b3", "r3"}, []string{"b4"}),
		site([]string{"b1", "r1"}, []string{"r2"}),
	}
	install := func(i int) *index {
		snap := sites[i%len(sites)]
		snap.Revision = top.Revision()
		x := buildIndex(snap, p)
		a.idxMu.Lock()
		a.addIndex(x, p)
		a.idxMu.Unlock()
		return x
	}
	install(0)
	done := make(chan struct{})
	var wg sync.WaitGroup
	reader := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					fn()
				}
			}
		}()
	}
	reader(func() { a.FloodActions(0xc1, 10) })
	reader(func() { a.Peers(time.Now()) })
	reader(func() { a.Tick(apptest.New(), apps.Switch{DPID: 0xc2}) })
	reader(func() { a.Health(time.Now()) })
	ctx := apptest.New()
	for i := 0; i < 300; i++ {
		x := install(i)
		l := x.liveFrom(func(hv string) bool { return i%7 != 0 || hv != "hv2" })
		a.refreshWith(ctx, 0xc1, x, p, l)
		a.refreshWith(ctx, 0xc2, x, p, l)
	}
	close(done)
	wg.Wait()
}

// A dry run (apps.Planner: loomctl plan, loomd check, the northbound
// networks preview) asks for the index under the candidate policy:
// current makes that the app's index, and records a full delta from the
// running one; the next refresh under the running policy adds another.
// No policy was applied, nothing changed, yet every switch's next refresh
// is a full recompute (the 7.5-11 s for 1,000 switches the incremental
// path exists to avoid), and each plan pushes two entries out of the
// history.
func TestAttackPlanBreaksTheChain(t *testing.T) {
	pols := equivalencePolicies(t)
	top := topology.New()
	p := pols[0]
	a := New(Options{Topology: top, Policy: network.NewHolder(p), Every: time.Hour})
	snap := site([]string{"b1"}, []string{"b2", "r2"}, []string{"b3"})
	install := func() *index { // what current(p) builds of the unchanged topology
		snap.Revision = top.Revision()
		x := buildIndex(snap, p)
		a.idxMu.Lock()
		a.addIndex(x, p)
		a.idxMu.Unlock()
		return x
	}
	x := install()
	a.refreshWith(apptest.New(), 0xc1, x, p, x.liveFrom(always))
	x = install()
	c := &countCtx{}
	a.refreshWith(c, 0xc1, x, p, x.liveFrom(always))
	if c.sets+c.deletes != 0 {
		t.Fatalf("nothing changed, yet the refresh declared %d and withdrew %d", c.sets, c.deletes)
	}
	a.Plan(pols[1], apps.Switch{DPID: 0xc1}) // a dry run of another policy
	last := a.declared[0xc1]
	x = install()
	c = &countCtx{}
	a.refreshWith(c, 0xc1, x, p, x.liveFrom(always))
	if _, _, ok := a.changedSince(last, a.declared[0xc1]); !ok || c.sets != 0 {
		t.Fatalf("after a dry run of another policy (nothing applied, nothing changed) the refresh is a full recompute: %d flows declared again", c.sets)
	}
}
