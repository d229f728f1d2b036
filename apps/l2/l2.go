// Package l2 is a learning switch expressed as desired flows.
//
// Pipeline: table 0 ("l2-learn") knows every (port, source MAC) pair Loom
// has learned and sends the rest to the controller; table 1 ("l2-forward")
// sends each learned MAC to its port and floods the rest. A packet-in is
// therefore a packet from a source not yet seen on that port: the app
// learns it, declares the two flows for that MAC, and sends the packet
// back through the pipeline (output:TABLE), where the new flows meet it.
// Unknown destinations flood in the switch without involving Loom.
//
// Sources l2 refuses (a VM port sending as another MAC, sources past the
// MAC table's size) are refused at the switch for Options.SpoofHold, and
// counted and logged per port in bounded state: see guard.go.
package l2

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// Table ids when standing alone (in loomd, apps/pipeline gives them).
const (
	TableLearn   uint8 = 0
	TableForward uint8 = 1
)

// ID is the l2 app's cookie id.
const ID = pipeline.AppL2

// DefaultMaxMACs bounds the MAC table of one switch, so a VM spraying
// random source addresses cannot grow Loom's memory or the flow table
// without limit.
const DefaultMaxMACs = 8192

// DefaultHoldDown is how long a MAC must keep showing up on a second port
// before Loom believes it moved there (while its old port stays up).
const DefaultHoldDown = 10 * time.Second

// VLANs is what l2 needs from the VLAN classifier (apps/vlan): how each
// port carries networks, and how to flood within one.
type VLANs interface {
	Name() string // the app's: l2 declares it as an input
	Mode(dpid uint64, port uint32) (network.Mode, bool)
	FloodActions(dpid uint64, vid uint16) []flow.Action
}

// Options configure the learning switch.
type Options struct {
	// MaxMACs bounds the MAC table of one switch (DefaultMaxMACs when 0).
	MaxMACs int
	// HoldDown is how long a MAC seen on a second port, while its first
	// port is up, must keep appearing there before it moves (DefaultHoldDown
	// when 0). One forged frame never moves a MAC.
	HoldDown time.Duration
	// SpoofHold is how long a refusal l2 declares at the switch stays (a
	// VM port sending as another MAC blocked, a source seen while the MAC
	// table is full forwarded without learning); DefaultSpoofHold when 0.
	// See guard.go.
	SpoofHold time.Duration
	// Topology, when set, lets l2 refuse a VM port's frames from any MAC
	// but the one libvirt attached to it, and receives the hosts it learns.
	Topology *topology.Topology
	// VLANs, when set, makes l2 learn per VLAN: a MAC is known per (VLAN,
	// MAC), delivered with or without its tag as the port wants, and
	// unknown destinations are flooded by the classifier's flows (the
	// forward table's miss drops). Without it l2 is a plain learning
	// switch whose forward table floods.
	VLANs VLANs
	// Learn and Forward are the table ids (TableLearn, TableForward when
	// both are 0).
	Learn, Forward uint8
}

// App is the learning switch.
type App struct {
	o Options

	// Every map here is bounded: MACs by MaxMACs per switch, move
	// candidates by the MACs, ports by what the switch reports, refusals
	// by the caps in guard.go.
	mu     sync.Mutex
	tables map[uint64]map[vmac]uint32    // dpid -> (VLAN, MAC) -> port
	moves  map[uint64]map[vmac]candidate // dpid -> known (VLAN, MAC) -> the port it may be moving to
	ports  map[uint64]map[uint32]portInfo
	guards map[uint64]*switchGuard // refused sources, per switch and port
	// Frames refused over the app's life, and those of them not logged
	// one by one (counted into a summary line).
	refused, unlogged uint64
}

// portInfo is what the switch last said about a port.
type portInfo struct {
	name string
	down bool
}

// vmac is a MAC in one VLAN (0: untagged, or l2 without VLANs).
type vmac struct {
	vid uint16
	mac flow.MAC
}

// candidate is a port a known MAC has been seen on since a time.
type candidate struct {
	port  uint32
	since time.Time
}

// New returns a learning switch.
func New(o Options) *App {
	if o.MaxMACs <= 0 {
		o.MaxMACs = DefaultMaxMACs
	}
	if o.HoldDown <= 0 {
		o.HoldDown = DefaultHoldDown
	}
	if o.SpoofHold <= 0 {
		o.SpoofHold = DefaultSpoofHold
	}
	if o.Learn == 0 && o.Forward == 0 {
		o.Learn, o.Forward = TableLearn, TableForward
	}
	return &App{o: o, tables: map[uint64]map[vmac]uint32{}, moves: map[uint64]map[vmac]candidate{},
		ports: map[uint64]map[uint32]portInfo{}, guards: map[uint64]*switchGuard{}}
}

// Name implements apps.App.
func (a *App) Name() string { return "l2" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Inputs implements apps.Dependent: with a classifier, ports' modes and
// flooding come from its last declarations, so it computes first.
func (a *App) Inputs() []string {
	if a.o.VLANs == nil {
		return nil
	}
	return []string{a.o.VLANs.Name()}
}

// Tables implements apps.App.
func (a *App) Tables() []flow.Table {
	miss := flow.MissFlood
	if a.o.VLANs != nil {
		miss = flow.MissDrop // the classifier declares each network's flooding
	}
	return []flow.Table{
		{ID: a.o.Learn, Name: "l2-learn", Owner: a.Name(), Miss: flow.MissController, Match: flow.FieldInPort | flow.FieldEthSrc | flow.FieldEthType | flow.FieldVLAN},
		{ID: a.o.Forward, Name: "l2-forward", Owner: a.Name(), Miss: miss, Match: flow.FieldEthDst | flow.FieldVLAN},
	}
}

// flows makes m reachable on port through egress.
func (a *App) flows(m vmac, port uint32, egress []flow.Action) []flow.Flow {
	learn, fwd := flow.Match{}.InPort(port).EthSrc(m.mac), flow.Match{}.EthDst(m.mac)
	if a.o.VLANs != nil {
		learn, fwd = network.MatchVLAN(learn, m.vid), network.MatchVLAN(fwd, m.vid)
	}
	return []flow.Flow{
		flow.Flow{Table: a.o.Learn, Priority: pipeline.L2MAC, Match: learn}.Then(a.o.Forward),
		{Table: a.o.Forward, Priority: pipeline.L2MAC, Match: fwd, Actions: egress},
	}
}

func key(m vmac) string {
	if m.vid == 0 {
		return "mac/" + m.mac.String()
	}
	return fmt.Sprintf("mac/%d/%s", m.vid, m.mac)
}

// PacketIn implements apps.PacketHandler.
func (a *App) PacketIn(ctx apps.Context, pkt apps.PacketIn) {
	if len(pkt.Data) < 14 {
		return
	}
	var src flow.MAC
	copy(src[:], pkt.Data[6:12])
	m, egress, ok := a.classify(pkt, src)
	if !ok {
		return // a frame its port may not carry, or a VLAN left behind by a policy change
	}
	if src.Multicast() {
		// Not learnable: deliver it without resubmitting, which would
		// only bring it back here.
		a.flood(ctx, pkt, m.vid)
		return
	}
	if own, ok := a.ownMAC(pkt.DPID, pkt.InPort); ok && own != src {
		a.refuseSpoofed(ctx, pkt.DPID, pkt.InPort, src, own)
		return // dropped: a VM may only send as itself
	}
	outcome := a.learn(pkt.DPID, m, pkt.InPort, ctx.Now())
	switch outcome {
	case full:
		a.refuseFull(ctx, pkt.DPID, pkt.InPort, src)
		a.flood(ctx, pkt, m.vid)
		return
	case heldDown:
		a.refuseHeld(ctx, pkt.DPID, pkt.InPort, src)
		return
	case learned:
		// New here (or moved): declare its flows and tell the topology.
		// A MAC already known on this port has its flows declared: a
		// packet-in for it (the flows are on their way, or a switch
		// without them yet) only needs delivering.
		ctx.Set(pkt.DPID, key(m), a.flows(m, pkt.InPort, egress)...)
		a.learnedPass(ctx, pkt.DPID, pkt.InPort, src)
	}
	// Back through the whole pipeline, as it entered the port: the
	// classifier tags it again and the ACLs see it again.
	data := pkt.Data
	if a.o.VLANs != nil && !isTagged(egress) {
		data = untag(data)
	}
	ctx.PacketOut(apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: toTable, Data: data})
	if a.o.Topology == nil {
		return
	}
	if ip := arpSenderIP(untag(pkt.Data), src); outcome == learned || ip != "" {
		a.o.Topology.HostSeen(src.String(), pkt.DPID, pkt.InPort, ip, ctx.Now())
	}
}

// classify finds the VLAN a packet-in belongs to and how its port takes
// frames of that VLAN. Inside the pipeline a network's frames carry their
// tag; should a switch hand one over without it, the port's untagged VLAN
// is the one it was classified into.
func (a *App) classify(pkt apps.PacketIn, src flow.MAC) (vmac, []flow.Action, bool) {
	if a.o.VLANs == nil {
		return vmac{mac: src}, []flow.Action{flow.Output(pkt.InPort)}, true
	}
	mode, ok := a.o.VLANs.Mode(pkt.DPID, pkt.InPort)
	if !ok {
		return vmac{}, nil, false
	}
	vid, tagged := frameVLAN(pkt.Data)
	if !tagged {
		if !mode.UntaggedOK {
			return vmac{}, nil, false
		}
		vid = mode.Untagged
	}
	egress, ok := mode.Egress(pkt.InPort, vid)
	return vmac{vid: vid, mac: src}, egress, ok
}

// flood delivers a frame to its network's ports without learning.
func (a *App) flood(ctx apps.Context, pkt apps.PacketIn, vid uint16) {
	acts := floodAction
	data := pkt.Data
	if a.o.VLANs != nil {
		acts = a.o.VLANs.FloodActions(pkt.DPID, vid)
		data = withTag(pkt.Data, vid)
	}
	if len(acts) > 0 {
		ctx.PacketOut(apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: acts, Data: data})
	}
}

// Packet-out actions, shared and never modified.
var (
	toTable     = []flow.Action{flow.ToTable()}
	floodAction = []flow.Action{flow.Flood()}
)

// arpSenderIP returns the sender IP of an ARP frame sent by src, or "".
func arpSenderIP(f []byte, src flow.MAC) string {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:]) != 0x0806 || flow.MAC(f[22:28]) != src {
		return ""
	}
	return netip.AddrFrom4([4]byte(f[28:32])).String()
}

type outcome int

const (
	learned      outcome = iota // new, or moved here
	sameAsBefore                // already known on this port
	full
	heldDown
)

// learn records mac on port, unless the table is full, or mac is known on
// another port that is still up and has not shown up here for the whole
// hold-down.
func (a *App) learn(dpid uint64, mac vmac, port uint32, now time.Time) outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tables[dpid]
	if t == nil {
		t = map[vmac]uint32{}
		a.tables[dpid] = t
	}
	old, known := t[mac]
	switch {
	case !known && len(t) >= a.o.MaxMACs:
		return full
	case known && old != port && !a.ports[dpid][old].down:
		moves := a.moves[dpid]
		if moves == nil {
			moves = map[vmac]candidate{}
			a.moves[dpid] = moves
		}
		c, ok := moves[mac]
		if !ok || c.port != port {
			moves[mac] = candidate{port: port, since: now}
			return heldDown
		}
		if now.Sub(c.since) < a.o.HoldDown {
			return heldDown
		}
	}
	if known && old == port {
		return sameAsBefore
	}
	delete(a.moves[dpid], mac)
	t[mac] = port
	return learned
}

// Lookup returns the port mac was learned on, in any VLAN.
func (a *App) Lookup(dpid uint64, mac flow.MAC) (uint32, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for m, p := range a.tables[dpid] {
		if m.mac == mac {
			return p, true
		}
	}
	return 0, false
}

// forget drops every MAC learned on a port for which gone is true, and
// every move candidate for which it is true or whose MAC is gone.
func (a *App) forget(ctx apps.Context, dpid uint64, gone func(m vmac, port uint32) bool) {
	a.mu.Lock()
	var macs []vmac
	t := a.tables[dpid]
	for m, port := range t {
		if gone(m, port) {
			macs = append(macs, m)
			delete(t, m)
		}
	}
	for m, c := range a.moves[dpid] {
		if _, known := t[m]; !known || gone(m, c.port) {
			delete(a.moves[dpid], m)
		}
	}
	a.mu.Unlock()
	for _, m := range macs {
		ctx.Delete(dpid, key(m))
		if a.o.Topology != nil {
			a.o.Topology.HostGone(m.mac.String())
		}
	}
}

// PortChanged implements apps.PortHandler: a MAC behind a port that went
// down or away is forgotten, so it is relearned wherever it shows up next,
// and whatever l2 declared against the port's refused sources is withdrawn
// (the port number may come back as another VM's).
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
	a.mu.Lock()
	if change == apps.PortDeleted {
		delete(a.ports[dpid], port.No)
	} else {
		a.setPortLocked(dpid, port.No, portInfo{name: port.Name, down: !port.Up})
	}
	if change == apps.PortDeleted || !port.Up {
		a.unguard(ctx, dpid, port.No)
	}
	a.mu.Unlock()
	if change == apps.PortDeleted || !port.Up {
		a.forget(ctx, dpid, func(_ vmac, p uint32) bool { return p == port.No })
	}
}

// SwitchUp implements apps.SwitchHandler. What was learned survives a
// reconnect (the flows are still right); only MACs behind ports that are
// now missing or down are forgotten, and the refusals declared for such
// ports withdrawn. Refusals whose hold ended while the switch was away go
// now, before the first install.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) {
	up := make(map[uint32]bool, len(sw.Ports))
	ports := make(map[uint32]portInfo, len(sw.Ports))
	for _, p := range sw.Ports {
		up[p.No] = p.Up
		ports[p.No] = portInfo{name: p.Name, down: !p.Up}
	}
	a.mu.Lock()
	a.ports[sw.DPID] = ports
	if sg := a.guards[sw.DPID]; sg != nil {
		for port := range sg.ports {
			if !up[port] {
				a.unguard(ctx, sw.DPID, port)
			}
		}
	}
	a.mu.Unlock()
	a.forget(ctx, sw.DPID, func(_ vmac, p uint32) bool { return !up[p] })
	a.tickGuards(ctx, sw.DPID)
}

// Refresh implements apps.Refresher: after a policy change a MAC whose
// port no longer carries its VLAN is forgotten (so no frame of that VLAN
// still reaches the port), and the rest are declared again with the
// port's current egress (it may have turned from access to trunk). A
// blocked VM port whose MAC OVSDB now reports differently is blocked for
// all but its new MAC.
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) {
	a.refreshGuards(ctx, sw.DPID)
	if a.o.VLANs == nil {
		return
	}
	a.forget(ctx, sw.DPID, func(m vmac, port uint32) bool {
		_, ok := a.egress(sw.DPID, port, m.vid)
		return !ok
	})
	a.mu.Lock()
	known := make(map[vmac]uint32, len(a.tables[sw.DPID]))
	for m, p := range a.tables[sw.DPID] {
		known[m] = p
	}
	a.mu.Unlock()
	for m, port := range known {
		if egress, ok := a.egress(sw.DPID, port, m.vid); ok {
			ctx.Set(sw.DPID, key(m), a.flows(m, port, egress)...)
		}
	}
}

func (a *App) egress(dpid uint64, port uint32, vid uint16) ([]flow.Action, bool) {
	mode, ok := a.o.VLANs.Mode(dpid, port)
	if !ok {
		return nil, false
	}
	return mode.Egress(port, vid)
}

// setDown marks a port down or up, as a port-status would.
func (a *App) setDown(dpid uint64, port uint32, down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.ports[dpid][port]
	p.down = down
	a.setPortLocked(dpid, port, p)
}

func (a *App) setPortLocked(dpid uint64, port uint32, p portInfo) {
	if a.ports[dpid] == nil {
		a.ports[dpid] = map[uint32]portInfo{}
	}
	a.ports[dpid][port] = p
}

// SwitchDown implements apps.SwitchHandler. The MAC table is kept, and so
// are the refusals declared at the switch (declarations outlive the
// connection; they are withdrawn when their hold ends, from the first
// SwitchUp or Tick after it, or with the switch, ForgetSwitch). The
// counters and log windows of its ports are dropped.
func (a *App) SwitchDown(ctx apps.Context, dpid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.guards[dpid]
	if sg == nil {
		return
	}
	for port, g := range sg.ports {
		g.win = [nReasons]window{}
		if g.idle() {
			delete(sg.ports, port)
		}
	}
	sg.other = window{}
	if len(sg.ports) == 0 {
		delete(a.guards, dpid)
	}
}

// ForgetSwitch implements apps.Forgetter: everything l2 keeps about a
// switch Loom forgets (its declarations go with it, in the controller).
func (a *App) ForgetSwitch(dpid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.tables, dpid)
	delete(a.moves, dpid)
	delete(a.ports, dpid)
	delete(a.guards, dpid)
}

// Every implements apps.Ticker: refusals are timed to the second.
func (a *App) Every() time.Duration { return min(tickEvery, a.o.SpoofHold) }

// Tick implements apps.Ticker: refusals whose hold ended are withdrawn,
// and the summaries due are logged.
func (a *App) Tick(ctx apps.Context, sw apps.Switch) { a.tickGuards(ctx, sw.DPID) }

// Restore implements apps.Restorer: the MAC table is rebuilt from the
// forward flows of the previous run ("mac/<mac>" or "mac/<vlan>/<mac>"),
// and the refusals it declared ("guard/...") are held again, so they are
// withdrawn in turn.
func (a *App) Restore(dpid uint64, key string, flows []flow.Flow) {
	if rest, ok := strings.CutPrefix(key, "guard/"); ok {
		a.restoreGuard(dpid, rest)
		return
	}
	rest, ok := strings.CutPrefix(key, "mac/")
	if !ok {
		return
	}
	var m vmac
	if vidText, macText, tagged := strings.Cut(rest, "/"); tagged {
		vid, err := strconv.ParseUint(vidText, 10, 12)
		if err != nil {
			return
		}
		m.vid, rest = uint16(vid), macText
	}
	mac, err := flow.ParseMAC(rest)
	if err != nil {
		return
	}
	m.mac = mac
	for _, f := range flows {
		if f.Table == a.o.Forward && len(f.Actions) > 0 {
			a.mu.Lock()
			if a.tables[dpid] == nil {
				a.tables[dpid] = map[vmac]uint32{}
			}
			a.tables[dpid][m] = f.Actions[len(f.Actions)-1].Port()
			a.mu.Unlock()
		}
	}
}

// String describes the app's state, for logs.
func (a *App) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, guarded := 0, 0
	for _, t := range a.tables {
		n += len(t)
	}
	for _, sg := range a.guards {
		guarded += len(sg.ports)
	}
	return fmt.Sprintf("l2: %d MACs on %d switches; %d ports refusing sources; %d frames refused, %d of them in summaries",
		n, len(a.tables), guarded, a.refused, a.unlogged)
}
