// Package l2 is a learning switch expressed as desired flows.
//
// Pipeline: table 0 ("l2-learn") knows every (port, source MAC) pair Loom
// has learned and sends the rest to the controller; table 1 ("l2-forward")
// sends each learned MAC to its port and floods the rest. A packet-in is
// therefore a packet from a source not yet seen on that port: the app
// learns it, declares the two flows for that MAC, and sends the packet
// back through the pipeline (output:TABLE), where the new flows meet it.
// Unknown destinations flood in the switch without involving Loom.
package l2

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// Table ids (when standing alone) and flow priorities of the pipeline.
const (
	TableLearn   uint8 = 0
	TableForward uint8 = 1
	priorityMAC        = 100
)

// ID is the l2 app's cookie id.
const ID flow.AppID = 1

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

	mu     sync.Mutex
	tables map[uint64]map[vmac]uint32    // dpid -> (VLAN, MAC) -> port
	moves  map[uint64]map[vmac]candidate // dpid -> (VLAN, MAC) -> the port it may be moving to
	down   map[uint64]map[uint32]bool    // dpid -> ports known down
	warned map[string]bool               // log once per (switch, port, MAC, reason)
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
	if o.Learn == 0 && o.Forward == 0 {
		o.Learn, o.Forward = TableLearn, TableForward
	}
	return &App{o: o, tables: map[uint64]map[vmac]uint32{}, moves: map[uint64]map[vmac]candidate{},
		down: map[uint64]map[uint32]bool{}, warned: map[string]bool{}}
}

// Name implements apps.App.
func (a *App) Name() string { return "l2" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

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
		flow.Flow{Table: a.o.Learn, Priority: priorityMAC, Match: learn}.Then(a.o.Forward),
		{Table: a.o.Forward, Priority: priorityMAC, Match: fwd, Actions: egress},
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
	if reason := a.spoofed(pkt.DPID, pkt.InPort, src); reason != "" {
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, reason)
		return // dropped: a VM may only send as itself
	}
	outcome := a.learn(pkt.DPID, m, pkt.InPort, ctx.Now())
	switch outcome {
	case full:
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, "MAC table full; flooding without learning")
		a.flood(ctx, pkt, m.vid)
		return
	case heldDown:
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, "MAC seen on a second port while its port is up; held down, not moved")
		return
	case learned:
		// New here (or moved): declare its flows and tell the topology.
		// A MAC already known on this port has its flows declared: a
		// packet-in for it (the flows are on their way, or a switch
		// without them yet) only needs delivering.
		ctx.Set(pkt.DPID, key(m), a.flows(m, pkt.InPort, egress)...)
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

// spoofed says why a frame from src on a VM port must be refused: the
// port's VM has a different MAC.
func (a *App) spoofed(dpid uint64, port uint32, src flow.MAC) string {
	if a.o.Topology == nil {
		return ""
	}
	p, ok := a.o.Topology.Port(dpid, port)
	if !ok || p.VM == nil || p.VM.MAC == "" {
		return ""
	}
	if attached, err := flow.ParseMAC(p.VM.MAC); err == nil && attached != src {
		return "frame from a MAC that is not the VM's own (libvirt attached-mac " + p.VM.MAC + "); dropped"
	}
	return ""
}

func (a *App) warnOnce(ctx apps.Context, dpid uint64, port uint32, mac flow.MAC, reason string) {
	id := fmt.Sprintf("%x/%d/%s/%s", dpid, port, mac, reason)
	a.mu.Lock()
	seen := a.warned[id]
	a.warned[id] = true
	a.mu.Unlock()
	if !seen {
		ctx.Log().WithFields(logrus.Fields{"port": port, "mac": mac.String()}).Warn(reason)
	}
}

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
	case known && old != port && !a.down[dpid][old]:
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

// forget drops every MAC learned on a port for which gone is true.
func (a *App) forget(ctx apps.Context, dpid uint64, gone func(m vmac, port uint32) bool) {
	a.mu.Lock()
	var macs []vmac
	for m, port := range a.tables[dpid] {
		if gone(m, port) {
			macs = append(macs, m)
			delete(a.tables[dpid], m)
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
// down or away is forgotten, so it is relearned wherever it shows up next.
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
	a.setDown(dpid, port.No, change == apps.PortDeleted || !port.Up)
	if change == apps.PortDeleted || !port.Up {
		a.forget(ctx, dpid, func(_ vmac, p uint32) bool { return p == port.No })
	}
}

// SwitchUp implements apps.SwitchHandler. What was learned survives a
// reconnect (the flows are still right); only MACs behind ports that are
// now missing or down are forgotten.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) {
	up := make(map[uint32]bool, len(sw.Ports))
	for _, p := range sw.Ports {
		up[p.No] = p.Up
		a.setDown(sw.DPID, p.No, !p.Up)
	}
	a.forget(ctx, sw.DPID, func(_ vmac, p uint32) bool { return !up[p] })
}

// Refresh implements apps.Refresher: after a policy change a MAC whose
// port no longer carries its VLAN is forgotten (so no frame of that VLAN
// still reaches the port), and the rest are declared again with the
// port's current egress (it may have turned from access to trunk).
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) {
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

func (a *App) setDown(dpid uint64, port uint32, down bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.down[dpid] == nil {
		a.down[dpid] = map[uint32]bool{}
	}
	if down {
		a.down[dpid][port] = true
	} else {
		delete(a.down[dpid], port)
	}
}

// SwitchDown implements apps.SwitchHandler; the MAC table is kept.
func (a *App) SwitchDown(ctx apps.Context, dpid uint64) {}

// Restore implements apps.Restorer: the MAC table is rebuilt from the
// forward flows of the previous run ("mac/<mac>" or "mac/<vlan>/<mac>").
func (a *App) Restore(dpid uint64, key string, flows []flow.Flow) {
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
	n := 0
	for _, t := range a.tables {
		n += len(t)
	}
	return fmt.Sprintf("l2: %d MACs on %d switches", n, len(a.tables))
}
