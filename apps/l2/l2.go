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
	"fmt"
	"strings"
	"sync"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
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

// App is the learning switch.
type App struct {
	maxMACs int

	mu     sync.Mutex
	tables map[uint64]map[flow.MAC]uint32 // dpid -> MAC -> port
}

// New returns a learning switch holding at most maxMACs MACs per switch
// (DefaultMaxMACs when maxMACs <= 0).
func New(maxMACs int) *App {
	if maxMACs <= 0 {
		maxMACs = DefaultMaxMACs
	}
	return &App{maxMACs: maxMACs, tables: make(map[uint64]map[flow.MAC]uint32)}
}

// Name implements apps.App.
func (a *App) Name() string { return "l2" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App.
func (a *App) Tables() []flow.Table {
	return []flow.Table{
		{ID: TableLearn, Name: "l2-learn", Owner: a.Name(), Miss: flow.MissController, Match: flow.FieldInPort | flow.FieldEthSrc | flow.FieldEthType},
		{ID: TableForward, Name: "l2-forward", Owner: a.Name(), Miss: flow.MissFlood, Match: flow.FieldEthDst},
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
	if src.Multicast() || !a.learn(pkt.DPID, src, pkt.InPort) {
		// Not learnable (group address, or the table is full): deliver it
		// without resubmitting, which would only bring it back here.
		if !src.Multicast() {
			ctx.Log().WithField("mac", src.String()).Warn("MAC table full; flooding without learning")
		}
		ctx.PacketOut(apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: []flow.Action{flow.Flood()}, Data: pkt.Data})
		return
	}
	ctx.Set(pkt.DPID, key(src), Flows(src, pkt.InPort)...)
	ctx.PacketOut(apps.PacketOut{DPID: pkt.DPID, InPort: pkt.InPort, Actions: []flow.Action{flow.ToTable()}, Data: pkt.Data})
}

// learn records mac on port; false when the switch's table is full.
func (a *App) learn(dpid uint64, mac flow.MAC, port uint32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.tables[dpid]
	if t == nil {
		t = make(map[flow.MAC]uint32)
		a.tables[dpid] = t
	}
	if _, known := t[mac]; !known && len(t) >= a.maxMACs {
		return false
	}
	t[mac] = port
	return true
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
	}
}

// PortChanged implements apps.PortHandler: a MAC behind a port that went
// down or away is forgotten, so it is relearned wherever it shows up next.
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
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
	}
	a.forget(ctx, sw.DPID, func(p uint32) bool { return !up[p] })
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
			a.learn(dpid, mac, f.Actions[0].Port())
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
