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
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/topology"
)

// Table ids and flow priorities of the pipeline.
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
}

// App is the learning switch.
type App struct {
	o Options

	mu     sync.Mutex
	tables map[uint64]map[flow.MAC]uint32    // dpid -> MAC -> port
	moves  map[uint64]map[flow.MAC]candidate // dpid -> MAC -> the port it may be moving to
	down   map[uint64]map[uint32]bool        // dpid -> ports known down
	warned map[string]bool                   // log once per (switch, port, MAC, reason)
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
	return &App{o: o, tables: map[uint64]map[flow.MAC]uint32{}, moves: map[uint64]map[flow.MAC]candidate{},
		down: map[uint64]map[uint32]bool{}, warned: map[string]bool{}}
}

// Name implements apps.App.
func (a *App) Name() string { return "l2" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App.
func (a *App) Tables() []flow.Table {
	return []flow.Table{
		{ID: TableLearn, Name: "l2-learn", Owner: a.Name(), Miss: flow.MissController, Match: flow.FieldInPort | flow.FieldEthSrc | flow.FieldEthType | flow.FieldVLAN},
		{ID: TableForward, Name: "l2-forward", Owner: a.Name(), Miss: flow.MissFlood, Match: flow.FieldEthDst | flow.FieldVLAN},
	}
}

// Flows returns the two flows that make mac reachable on port.
func Flows(mac flow.MAC, port uint32) []flow.Flow {
	return []flow.Flow{
		flow.Flow{Table: TableLearn, Priority: priorityMAC, Match: flow.Match{}.InPort(port).EthSrc(mac)}.Then(TableForward),
		{Table: TableForward, Priority: priorityMAC, Match: flow.Match{}.EthDst(mac), Actions: []flow.Action{flow.Output(port)}},
	}
}

func key(mac flow.MAC) string { return "mac/" + mac.String() }

// PacketIn implements apps.PacketHandler.
func (a *App) PacketIn(ctx apps.Context, pkt apps.PacketIn) {
	if len(pkt.Data) < 14 {
		return
	}
	var src flow.MAC
	copy(src[:], pkt.Data[6:12])
	flood := apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: floodAction, Data: pkt.Data}
	if src.Multicast() {
		// Not learnable: deliver it without resubmitting, which would
		// only bring it back here.
		ctx.PacketOut(flood)
		return
	}
	if reason := a.spoofed(pkt.DPID, pkt.InPort, src); reason != "" {
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, reason)
		return // dropped: a VM may only send as itself
	}
	outcome := a.learn(pkt.DPID, src, pkt.InPort, ctx.Now())
	switch outcome {
	case full:
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, "MAC table full; flooding without learning")
		ctx.PacketOut(flood)
		return
	case heldDown:
		a.warnOnce(ctx, pkt.DPID, pkt.InPort, src, "MAC seen on a second port while its port is up; held down, not moved")
		return
	case learned:
		// New here (or moved): declare its flows and tell the topology.
		// A MAC already known on this port has its flows declared: a
		// packet-in for it (the flows are on their way, or a switch
		// without them yet) only needs delivering.
		ctx.Set(pkt.DPID, key(src), Flows(src, pkt.InPort)...)
	}
	ctx.PacketOut(apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: toTable, Data: pkt.Data})
	if a.o.Topology == nil {
		return
	}
	if ip := arpSenderIP(pkt.Data, src); outcome == learned || ip != "" {
		a.o.Topology.HostSeen(src.String(), pkt.DPID, pkt.InPort, ip, ctx.Now())
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
func (a *App) learn(dpid uint64, mac flow.MAC, port uint32, now time.Time) outcome {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tables[dpid]
	if t == nil {
		t = map[flow.MAC]uint32{}
		a.tables[dpid] = t
	}
	old, known := t[mac]
	switch {
	case !known && len(t) >= a.o.MaxMACs:
		return full
	case known && old != port && !a.down[dpid][old]:
		moves := a.moves[dpid]
		if moves == nil {
			moves = map[flow.MAC]candidate{}
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

// Lookup returns the port mac was learned on.
func (a *App) Lookup(dpid uint64, mac flow.MAC) (uint32, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.tables[dpid][mac]
	return p, ok
}

// forget drops every MAC learned on a port for which gone is true.
func (a *App) forget(ctx apps.Context, dpid uint64, gone func(port uint32) bool) {
	a.mu.Lock()
	var macs []flow.MAC
	for mac, port := range a.tables[dpid] {
		if gone(port) {
			macs = append(macs, mac)
			delete(a.tables[dpid], mac)
		}
	}
	a.mu.Unlock()
	for _, mac := range macs {
		ctx.Delete(dpid, key(mac))
		if a.o.Topology != nil {
			a.o.Topology.HostGone(mac.String())
		}
	}
}

// PortChanged implements apps.PortHandler: a MAC behind a port that went
// down or away is forgotten, so it is relearned wherever it shows up next.
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
	a.setDown(dpid, port.No, change == apps.PortDeleted || !port.Up)
	if change == apps.PortDeleted || !port.Up {
		a.forget(ctx, dpid, func(p uint32) bool { return p == port.No })
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
	a.forget(ctx, sw.DPID, func(p uint32) bool { return !up[p] })
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
// forward flows of the previous run.
func (a *App) Restore(dpid uint64, key string, flows []flow.Flow) {
	macText, ok := strings.CutPrefix(key, "mac/")
	if !ok {
		return
	}
	mac, err := flow.ParseMAC(macText)
	if err != nil {
		return
	}
	for _, f := range flows {
		if f.Table == TableForward && len(f.Actions) == 1 {
			a.mu.Lock()
			if a.tables[dpid] == nil {
				a.tables[dpid] = map[flow.MAC]uint32{}
			}
			a.tables[dpid][mac] = f.Actions[0].Port()
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
