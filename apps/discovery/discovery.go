// Package discovery finds the links between Loom's switches with LLDP.
//
// Every Every() it sends a probe out of each switch port that is not a VM
// port. A probe carries the sending (dpid, port), the time, and an HMAC
// under a key only this process (or this cluster: share.go) holds; a probe from A that comes back in
// on B, while one from B comes back in on A, is a link A-B. Forged probes
// fail the HMAC, stale or replayed ones fail the time window, LLDP
// arriving on a VM port is dropped by the switch before it reaches Loom,
// and a probe relayed one way (a host on one port copying what it hears
// into another) makes no link. Links not confirmed both ways for three
// periods, or whose port goes down, are removed. A host relaying both ways
// between two ports it sits on can still make a link: see docs/SECURITY.md.
package discovery

import (
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/topology"
)

// ID is the discovery app's cookie id.
const ID = pipeline.AppDiscovery

// table is the first table (the learning switch's, when it stands
// alone): LLDP is caught before anything else sees it.
const table = pipeline.Classify

// App is the LLDP link discovery.
type App struct {
	top   *topology.Topology
	every time.Duration
	key   []byte
	share Sharer // nil outside a cluster

	mu sync.Mutex
	// links are the links this app put in the topology.
	links map[topology.Link]bool
	// heard is when a probe from one endpoint last came in on another
	// ([from, to]): a link needs both directions within the window.
	heard map[direction]time.Time
	// shared are the directions a cluster's instances published (this
	// one's too): one masters the switch a probe came in on, another may
	// master the one it left.
	shared map[direction]bool
	// rejected counts probes refused, by reason, for logs and tests.
	rejected map[string]int
}

// direction is a probe's way: [from, to].
type direction = [2]topology.Endpoint

// Option sets up discovery beyond its defaults.
type Option func(*App)

// WithKey signs and checks probes with key instead of a random key of
// this process: every instance of a cluster holds the same one, so a
// probe one sends is genuine to the one that hears it.
func WithKey(key []byte) Option {
	return func(a *App) { a.key = append([]byte(nil), key...) }
}

// New returns discovery probing every period (5s when <= 0).
func New(top *topology.Topology, every time.Duration, opts ...Option) *App {
	if every <= 0 {
		every = 5 * time.Second
	}
	key := make([]byte, 32)
	rand.Read(key)
	a := &App{top: top, every: every, key: key, links: map[topology.Link]bool{},
		heard: map[direction]time.Time{}, shared: map[direction]bool{}, rejected: map[string]int{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Name implements apps.App.
func (a *App) Name() string { return "discovery" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App: its flows live in the first table.
func (a *App) Tables() []flow.Table { return nil }

// Every implements apps.Ticker.
func (a *App) Every() time.Duration { return a.every }

// SwitchUp implements apps.SwitchHandler: catch LLDP, and probe at once.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) {
	ctx.Set(sw.DPID, "lldp", flow.Flow{Table: table, Priority: pipeline.DiscoveryLLDP,
		Match: flow.Match{}.EthType(EtherTypeLLDP), Actions: []flow.Action{flow.ToController()}})
	a.Tick(ctx, sw)
}

// SwitchDown implements apps.SwitchHandler: its links are gone, and what
// this instance heard through it (it hears nothing more there).
func (a *App) SwitchDown(ctx apps.Context, dpid uint64) { a.leave(dpid, false) }

// ForgetSwitch implements apps.Forgetter: nothing of the switch stays,
// what the cluster published about it neither (forgetting clears that
// from the shared store too).
func (a *App) ForgetSwitch(dpid uint64) { a.leave(dpid, true) }

func (a *App) leave(dpid uint64, forget bool) {
	touches := func(d direction) bool { return d[0].DPID == dpid || d[1].DPID == dpid }
	a.mu.Lock()
	var withdraw []direction
	for d := range a.heard {
		if touches(d) {
			delete(a.heard, d)
			withdraw = append(withdraw, d)
		}
	}
	if forget {
		for d := range a.shared {
			if touches(d) {
				delete(a.shared, d)
			}
		}
	}
	a.mu.Unlock()
	a.publish(withdraw, false)
	a.drop(func(l topology.Link) bool { return l.A.DPID == dpid || l.B.DPID == dpid })
}

// Refresh implements apps.Refresher: the VM-port drops follow what the
// topology learns about ports at once, not at the next probe.
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) { a.vmDrops(ctx, sw, a.portKinds(sw.DPID)) }

// Tick implements apps.Ticker: refresh the VM-port drops, probe, expire.
func (a *App) Tick(ctx apps.Context, sw apps.Switch) {
	kinds := a.portKinds(sw.DPID)
	a.vmDrops(ctx, sw, kinds)
	now := ctx.Now()
	for _, p := range sw.Ports {
		if k := kinds[p.No]; k == topology.PortVM || k == topology.PortTunnel || !p.Up || p.No > 0xffffff00 {
			continue // no LLDP to VMs, nor into a flow-based tunnel (it needs a destination)
		}
		frame := buildFrame(a.key, [6]byte(p.MAC), sw.DPID, p.No, now.UnixNano())
		ctx.PacketOut(apps.PacketOut{DPID: sw.DPID, Actions: []flow.Action{flow.Output(p.No)}, Data: frame})
	}
	cutoff := now.Add(-3 * a.every)
	a.mu.Lock()
	var withdraw []direction
	for d, at := range a.heard {
		if d[1].DPID == sw.DPID && at.Before(cutoff) {
			delete(a.heard, d)
			withdraw = append(withdraw, d)
		}
	}
	withdraw = append(withdraw, a.orphans(sw.DPID, cutoff)...)
	a.mu.Unlock()
	a.publish(withdraw, false)
	a.drop(func(l topology.Link) bool {
		return (l.A.DPID == sw.DPID || l.B.DPID == sw.DPID) && !a.bothWays(l, cutoff)
	})
}

// vmDrops drops LLDP arriving from VM ports: a VM may not fake a link.
func (a *App) vmDrops(ctx apps.Context, sw apps.Switch, kinds map[uint32]topology.PortKind) {
	for _, p := range sw.Ports {
		key := fmt.Sprintf("vm-lldp/%d", p.No)
		if kinds[p.No] == topology.PortVM {
			ctx.Set(sw.DPID, key, flow.Flow{Table: table, Priority: pipeline.DiscoveryVMDrop,
				Match: flow.Match{}.InPort(p.No).EthType(EtherTypeLLDP)})
		} else {
			ctx.Delete(sw.DPID, key)
		}
	}
}

// portKinds returns what the topology knows is behind each port.
func (a *App) portKinds(dpid uint64) map[uint32]topology.PortKind {
	out := map[uint32]topology.PortKind{}
	for _, p := range a.top.Ports(dpid) {
		out[p.No] = p.Kind
	}
	return out
}

// PacketIn implements apps.PacketHandler: a probe coming back is a link.
func (a *App) PacketIn(ctx apps.Context, pkt apps.PacketIn) {
	if len(pkt.Data) < 14 || pkt.Data[12] != EtherTypeLLDP>>8 || pkt.Data[13] != EtherTypeLLDP&0xff {
		return // not LLDP: another app's packet
	}
	p, err := parseFrame(pkt.Data)
	dst := topology.Endpoint{DPID: pkt.DPID, Port: pkt.InPort}
	reason := ""
	switch {
	case err != nil:
		reason = "malformed"
	case a.portKinds(pkt.DPID)[pkt.InPort] == topology.PortVM:
		reason = "arrived on a VM port"
	case !p.verify(a.key):
		reason = "bad HMAC"
	case abs(ctx.Now().UnixNano()-p.Sent) > int64(3*a.every):
		reason = "stale (replayed?)"
	case (topology.Endpoint{DPID: p.DPID, Port: p.Port}) == dst:
		reason = "looped back to its own port"
	}
	if reason != "" {
		a.reject(ctx.Log(), reason, dst)
		return
	}
	src := topology.Endpoint{DPID: p.DPID, Port: p.Port}
	d := direction{src, dst}
	now := ctx.Now()
	a.mu.Lock()
	_, had := a.heard[d]
	a.heard[d] = now
	a.mu.Unlock()
	if !had {
		a.publish([]direction{d}, true)
	}
	a.linkUp(ctx.Log(), topology.NewLink(src, dst), now)
}

// linkUp puts l in the topology if both its directions were heard (here
// or by another instance) and it is not there yet: one way so far (or
// relayed one way) is no link.
func (a *App) linkUp(log *logrus.Entry, l topology.Link, now time.Time) {
	a.mu.Lock()
	up := !a.links[l] && a.bothWays(l, now.Add(-3*a.every))
	if up {
		a.links[l] = true
	}
	a.mu.Unlock()
	if up {
		log.WithField("link", l.A.String()+" - "+l.B.String()).Info("link discovered")
		a.top.SetLink(l, true)
	}
}

// bothWays says whether a probe was heard each way along l since cutoff,
// or another instance says so. The caller holds a.mu.
func (a *App) bothWays(l topology.Link, cutoff time.Time) bool {
	return a.heardSince(direction{l.A, l.B}, cutoff) && a.heardSince(direction{l.B, l.A}, cutoff)
}

func (a *App) heardSince(d direction, cutoff time.Time) bool {
	if at, ok := a.heard[d]; ok && !at.Before(cutoff) {
		return true
	}
	return a.shared[d] && !a.masterLong(d[1].DPID, cutoff)
}

func (a *App) reject(log *logrus.Entry, reason string, at topology.Endpoint) {
	a.mu.Lock()
	a.rejected[reason]++
	first := a.rejected[reason] == 1
	a.mu.Unlock()
	if first { // one line per reason; the count says how many followed
		log.WithFields(logrus.Fields{"reason": reason, "port": at.String()}).Warn("LLDP probe rejected")
	}
}

// Rejected returns how many probes were refused for reason.
func (a *App) Rejected(reason string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rejected[reason]
}

// PortChanged implements apps.PortHandler: a link on a port that went
// down or away is gone.
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
	if change == apps.PortDeleted || !port.Up {
		e := topology.Endpoint{DPID: dpid, Port: port.No}
		a.mu.Lock()
		var withdraw []direction
		for d := range a.heard {
			if d[0] == e || d[1] == e {
				delete(a.heard, d)
				withdraw = append(withdraw, d)
			}
		}
		a.mu.Unlock()
		a.publish(withdraw, false)
		a.drop(func(l topology.Link) bool { return l.A == e || l.B == e })
	}
	if change == apps.PortDeleted {
		ctx.Delete(dpid, fmt.Sprintf("vm-lldp/%d", port.No))
	}
}

// drop removes the links for which gone is true.
func (a *App) drop(gone func(topology.Link) bool) {
	a.mu.Lock()
	var out []topology.Link
	for l := range a.links {
		if gone(l) {
			out = append(out, l)
			delete(a.links, l)
		}
	}
	a.mu.Unlock()
	for _, l := range out {
		a.top.SetLink(l, false)
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
