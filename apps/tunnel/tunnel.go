// Package tunnel joins the hypervisors' VM bridges into one L2 fabric per
// network over flow-based VXLAN or GRE tunnel ports (one per bridge,
// remote_ip=flow, key=flow, made by the controller through OVSDB).
//
// On each switch it declares: classification of frames arriving from the
// tunnel by VNI into their network's VLAN; a bypass of learning for them
// (their MACs are known from the topology, not learned on the tunnel
// port); and, for every MAC of the switch's networks that lives on another
// hypervisor (a VM's attached-mac from OVSDB before it ever sends, or a
// MAC learned there), a forward flow that sets the VNI and the peer's
// tunnel IP and leaves through the tunnel. Broadcast and unknown unicast
// reach the other hypervisors with ports in the network, and no others,
// through the actions it adds to each network's flood flow (FloodActions).
// OVS never sends a frame back out of the port it came in on, so a frame
// from the tunnel is never replicated again.
//
// It also probes every peer through the tunnel each interval; a peer is up
// while its probes arrive.
package tunnel

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// ID is the tunnel app's cookie id.
const ID = pipeline.AppTunnel

// Defaults.
const (
	DefaultEvery       = time.Second
	DefaultPeerTimeout = 30 * time.Second
)

// Options configure the mesh.
type Options struct {
	Topology *topology.Topology
	Policy   *network.Holder
	// Every is the probe interval; a peer is down after three without a
	// probe (DefaultEvery when 0).
	Every time.Duration
	// PeerTimeout is how long a hypervisor whose switches disconnected
	// stays in the mesh before its flows are withdrawn everywhere
	// (DefaultPeerTimeout when 0). It keeps a loomd restart, when every
	// switch reconnects one by one, from tearing the mesh down.
	PeerTimeout time.Duration
	// PortType is the type of the flow-based tunnel port the app keeps on
	// each tunnel bridge (vxlan or gre); empty: the app keeps none.
	PortType string
	// Bridge names the tunnel bridge on every hypervisor; empty: every
	// bridge that holds VM ports.
	Bridge string
}

// App is the tunnel mesh.
type App struct {
	o     Options
	start time.Time

	mu                sync.Mutex
	meshes            map[uint64]mesh // dpid -> its view (members only), as last declared
	declared          map[uint64]*declaredMesh
	sums              map[uint64]uint64    // dpid -> hash of the membership last declared
	seen              map[string]time.Time // hypervisor -> last time one of its switches was connected
	probes            map[[2]string]time.Time
	apps.Declarations // the keys declared per switch; Restore

	idxMu  sync.Mutex
	idx    *index // of the topology at idx.rev under idxPol
	idxPol *network.Policy
	idxAt  time.Time // when idx was built
	seq    uint64    // of the last index built
	hist   history   // deltas between the indexes built
}

// New returns the app.
func New(o Options) *App {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = DefaultPeerTimeout
	}
	return &App{o: o, start: time.Now(), meshes: map[uint64]mesh{}, sums: map[uint64]uint64{}, declared: map[uint64]*declaredMesh{},
		seen: map[string]time.Time{}, probes: map[[2]string]time.Time{}}
}

// current returns the index of the topology now under p: built once per
// topology revision and policy, and shared by every switch's view, so a
// refresh of all switches copies the model once, not once per switch.
func (a *App) current(p *network.Policy) *index {
	a.idxMu.Lock()
	defer a.idxMu.Unlock()
	if a.idx == nil || a.idxPol != p || a.idx.rev != a.o.Topology.Revision() {
		a.addIndex(buildIndex(a.o.Topology.Snapshot(), p), p)
	}
	return a.idx
}

// addIndex makes x the current index and keeps its delta from the last.
// The caller holds idxMu.
func (a *App) addIndex(x *index, p *network.Policy) {
	a.seq++
	x.seq = a.seq
	if a.idx != nil {
		a.hist.add(diff(a.idx, x, a.idxPol == p))
	}
	a.idx, a.idxPol, a.idxAt = x, p, time.Now()
}

// recent is current for periodic work (probes, timeouts): an index built
// less than one probe interval ago serves though the topology moved on, so
// a site whose topology changes all the time (switches churning) does not
// rebuild the index for every switch's every tick. Refreshes, which must
// see the change that caused them, use current.
func (a *App) recent(p *network.Policy) *index {
	a.idxMu.Lock()
	if a.idx != nil && a.idxPol == p && time.Since(a.idxAt) < a.o.Every {
		x := a.idx
		a.idxMu.Unlock()
		return x
	}
	a.idxMu.Unlock()
	return a.current(p)
}

// Name implements apps.App.
func (a *App) Name() string { return "tunnel" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App: its flows live in the classifier's and l2's.
func (a *App) Tables() []flow.Table { return nil }

// SwitchUp implements apps.SwitchHandler.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) { a.Refresh(ctx, sw) }

// SwitchDown implements apps.SwitchHandler.
func (a *App) SwitchDown(apps.Context, uint64) {}

// Every implements apps.Ticker.
func (a *App) Every() time.Duration { return a.o.Every }

// alive is the membership rule, at now: a hypervisor is in the mesh while
// one of its switches is connected, and for PeerTimeout after. It says so
// for each of x.hvs (live).
func (a *App) alive(x *index, now time.Time) live {
	a.mu.Lock()
	defer a.mu.Unlock()
	for hv := range x.connected {
		a.seen[hv] = now
	}
	l := make(live, len(x.hvs))
	for i, hv := range x.hvs {
		last, ok := a.seen[hv]
		if !ok {
			last = a.start // known only from the restored topology: give it the timeout from start
		}
		l[i] = x.connected[hv] || now.Sub(last) < a.o.PeerTimeout
	}
	return l
}

// Refresh implements apps.Refresher.
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) {
	if a.o.Topology == nil {
		return
	}
	p := a.o.Policy.Policy()
	// A switch no hypervisor claims is in no mesh: no need for the index
	// (a copy of the whole model when it has changed, which in a storm of
	// such switches it has for every one of them).
	if s, _ := a.o.Topology.Switch(sw.DPID); s.Hypervisor != "" {
		x := a.current(p)
		a.refreshWith(ctx, sw.DPID, x, p, a.alive(x, ctx.Now()))
		return
	}
	m := noMesh()
	a.Replace(ctx, sw.DPID, Flows(m, p))
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.declared, sw.DPID)
	a.meshes[sw.DPID] = m
	a.sums[sw.DPID] = m.sum()
}

// Plan implements apps.Planner.
func (a *App) Plan(p *network.Policy, sw apps.Switch) map[string][]flow.Flow {
	if a.o.Topology == nil {
		return nil
	}
	running := a.o.Policy.Policy()
	x := a.current(running)
	if p != running {
		// A candidate policy (a plan, a dry run): its own index, not
		// installed, so the running one's chain of deltas stays whole.
		x = buildIndex(a.o.Topology.Snapshot(), p)
	}
	return Flows(x.view(sw.DPID, a.alive(x, time.Now())), p)
}

// Flows is what a switch with view m declares.
func Flows(m mesh, p *network.Policy) map[string][]flow.Flow {
	decl := map[string][]flow.Flow{}
	if m.port == 0 {
		return decl
	}
	in := flow.Match{}.InPort(m.port)
	classify := []flow.Flow{{Table: pipeline.Classify, Priority: pipeline.TunnelProbe, Match: in.TunID(ProbeVNI),
		Actions: []flow.Action{flow.ToController()}}}
	var bypass []flow.Flow
	for _, n := range p.Networks() {
		if n.VNI == 0 || !m.here[uint16(n.VLAN)] {
			continue // a network without ports here neither enters nor leaves through this tunnel
		}
		vid := uint16(n.VLAN)
		classify = append(classify, flow.Flow{Table: pipeline.Classify, Priority: pipeline.TunnelClassify, Match: in.TunID(uint64(n.VNI)),
			Actions: []flow.Action{flow.PushVLAN(), flow.SetVLAN(vid)}}.Then(pipeline.Next(pipeline.Classify)))
		bypass = append(bypass, flow.Flow{Table: pipeline.L2Learn, Priority: pipeline.TunnelBypass, Match: in.VLAN(vid)}.Then(pipeline.Next(pipeline.L2Learn)))
		for _, r := range m.macs[vid] {
			decl[remoteKey(vmac{vid, r.mac})] = remoteFlow(vmac{vid, r.mac}, n.VNI, r.ip, m.port)
		}
	}
	decl["from-tunnel"] = classify
	if len(bypass) > 0 {
		decl["no-learning"] = bypass
	}
	return decl
}

// remoteKey is the key of the flow that sends vm into the tunnel.
func remoteKey(vm vmac) string { return fmt.Sprintf("remote/%d/%s", vm.vid, vm.mac) }

// remoteFlow sends frames for vm, untagged with its network's VNI, to the
// hypervisor at ip through the tunnel port.
func remoteFlow(vm vmac, vni int, ip netip.Addr, port uint32) []flow.Flow {
	return []flow.Flow{{Table: pipeline.L2Forward, Priority: pipeline.TunnelRemote,
		Match:   flow.Match{}.VLAN(vm.vid).EthDst(vm.mac),
		Actions: []flow.Action{flow.PopVLAN(), flow.SetTunID(uint64(vni)), flow.SetTunDst(ip), flow.Output(port)}}}
}

// FloodActions returns what a network's flood flow adds on dpid to reach
// the other hypervisors with ports in it: the frame, already untagged,
// once per peer with the network's VNI.
func (a *App) FloodActions(dpid uint64, vid uint16) []flow.Action {
	a.mu.Lock()
	m, ok := a.meshes[dpid]
	a.mu.Unlock()
	n, known := a.o.Policy.Policy().Network(vid)
	ips := m.membersOf(vid)
	if !ok || !known || n.VNI == 0 || m.port == 0 || len(ips) == 0 {
		return nil
	}
	acts := []flow.Action{flow.SetTunID(uint64(n.VNI))}
	for _, ip := range ips {
		acts = append(acts, flow.SetTunDst(ip), flow.Output(m.port))
	}
	return acts
}

// sum hashes the parts of a view that other apps' flows depend on (who is
// in the mesh, and where), in a fixed order, so a Tick can tell a
// membership change.
func (m mesh) sum() uint64 {
	h := fnv.New64a()
	var b []byte
	b = binary.BigEndian.AppendUint32(b, m.port)
	if m.base != nil { // a members view: its base, less itself
		b = binary.BigEndian.AppendUint64(b, m.base.digest)
		b = binary.BigEndian.AppendUint32(b, uint32(m.self))
		for _, vid := range sortedVIDs(m.here, nil) {
			b = binary.BigEndian.AppendUint16(b, vid)
		}
		h.Write(b)
		return h.Sum64()
	}
	for _, p := range m.peers {
		b = append(append(b, p.name...), 0)
		b = append(b, p.ip.AsSlice()...)
	}
	for _, vid := range sortedVIDs(m.here, m.members) {
		b = binary.BigEndian.AppendUint16(b, vid)
		if m.here[vid] {
			b = append(b, 1)
		}
		for _, ip := range m.members[vid] {
			b = append(b, ip.AsSlice()...)
		}
		b = append(b, 0xff)
	}
	h.Write(b)
	return h.Sum64()
}

// sortedVIDs lists every VLAN any of the maps has, in order.
func sortedVIDs(here map[uint16]bool, members map[uint16][]netip.Addr) []uint16 {
	set := map[uint16]bool{}
	for v := range here {
		set[v] = true
	}
	for v := range members {
		set[v] = true
	}
	out := make([]uint16, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Tick implements apps.Ticker: it probes every peer through the tunnel and
// notices a change of this switch's view no topology event announced (a
// peer that timed out).
func (a *App) Tick(ctx apps.Context, sw apps.Switch) {
	if a.o.Topology == nil {
		return
	}
	x := a.recent(a.o.Policy.Policy())
	m := x.members(sw.DPID, a.alive(x, ctx.Now()))
	a.mu.Lock()
	changed := a.sums[sw.DPID] != m.sum()
	a.mu.Unlock()
	if changed {
		// Every app's flows on the switch (the classifier's flooding too)
		// follow the new view.
		ctx.RefreshSwitch(sw.DPID)
	}
	if m.port == 0 {
		return
	}
	m.eachPeer(func(p peer) {
		ctx.PacketOut(apps.PacketOut{DPID: sw.DPID, Actions: []flow.Action{flow.SetTunID(ProbeVNI), flow.SetTunDst(p.ip), flow.Output(m.port)},
			Data: probeFrame(m.local, p.name, ctx.Now())})
	})
}

// PacketIn implements apps.PacketHandler: a probe that crossed a tunnel.
func (a *App) PacketIn(ctx apps.Context, pkt apps.PacketIn) {
	from, to, _, ok := parseProbe(pkt.Data)
	if !ok {
		return
	}
	a.mu.Lock()
	a.probes[[2]string{from, to}] = ctx.Now()
	a.mu.Unlock()
}

// Health implements apps.HealthReporter: one condition per path down.
func (a *App) Health(now time.Time) []apps.Condition {
	var out []apps.Condition
	for _, p := range a.Peers(now) {
		if !p.Up {
			out = append(out, apps.Condition{Kind: "tunnel", Subject: p.From + "->" + p.To,
				Message: "path down: " + p.Reason, Since: p.LastProbe})
		}
	}
	return out
}

// Peers implements apps.PeerReporter: the state of every path between
// hypervisors in the mesh.
func (a *App) Peers(now time.Time) []apps.Peer {
	if a.o.Topology == nil {
		return nil
	}
	x := a.current(a.o.Policy.Policy())
	alive := a.alive(x, now)
	var out []apps.Peer // members views: the peers, not the ~10k remote MACs of each
	for _, hv := range x.hvs {
		dpid, ok := x.tunnelSwitch(hv)
		if !ok {
			continue
		}
		x.members(dpid, alive).eachPeer(func(peer peer) {
			a.mu.Lock()
			last := a.probes[[2]string{hv, peer.name}]
			a.mu.Unlock()
			st := apps.Peer{From: hv, To: peer.name, RemoteIP: peer.ip.String(), LastProbe: last}
			switch {
			case last.IsZero():
				st.Reason = "no probe has arrived yet"
			case now.Sub(last) > 3*a.o.Every:
				st.Reason = fmt.Sprintf("no probe for %s", now.Sub(last).Round(time.Second))
			default:
				st.Up = true
			}
			out = append(out, st)
		})
	}
	return out
}
