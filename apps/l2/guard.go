package l2

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
)

// Refused sources. A frame l2 will not learn (a VM port sending as another
// MAC, a source seen while the MAC table is full, a MAC held down) is
// counted per port and logged as one line when it first happens and one
// summary per port per summaryEvery after that, never a line or a map entry
// per source. Where the switch can do the refusing, l2 declares flows for
// it, so a misbehaving port costs a flow, not a packet-in per frame:
//
//   - a VM port (its MAC known from OVSDB) sending as another MAC gets
//     "guard/<port>": its own MAC still goes to Loom (priority 60) and every
//     other source is dropped (priority 40);
//   - a source seen while the MAC table is full gets "guard/<port>/<mac>",
//     which forwards it without learning (priority 50), as l2 always has
//     (flooded, not learned), without a packet-in per frame. Past
//     maxPassPerPort such flows on a port, or maxPassPerSwitch on the
//     switch, the port gets "guard/<port>" instead: its unknown sources are
//     dropped.
//
// Every such declaration is withdrawn SpoofHold after it was made (by the
// app's Tick), and at once when its port goes down or away. All of it sits
// below the learned flows (priority 100) and the tunnel bypass (90).
const (
	// DefaultSpoofHold is how long a refusal declared at the switch stays.
	DefaultSpoofHold = time.Minute

	maxPassPerPort   = 16   // pass flows per port; past it the port drops unknown sources
	maxPassPerSwitch = 256  // pass flows per switch; past it, likewise
	maxGuardedPorts  = 1024 // ports per switch with refusal state; past it one aggregate count
	summaryEvery     = 10 * time.Second
	maxLinesPerEvery = 32 // log lines per switch per summaryEvery; the rest fold into one
	tickEvery        = time.Second
)

// reason is why frames were refused.
type reason uint8

const (
	reasonSpoof reason = iota
	reasonFull
	reasonHeld
	nReasons
)

// what happened to the frames, for the summary line.
var reasonSummary = [nReasons]string{
	"from forged source MACs dropped",
	"from unlearned source MACs flooded without learning (MAC table full)",
	"from MACs known on another port dropped (held down, not moved)",
}

// window counts one reason's frames on one port since its last line.
type window struct {
	start time.Time // when the last line went out; zero: no window open
	n     uint64    // frames since, not logged one by one
	last  flow.MAC  // the latest source, for the summary
}

// portGuard is what l2 keeps about one port's refused sources.
type portGuard struct {
	win   [nReasons]window
	block *portBlock           // "guard/<port>", nil when not declared
	pass  map[flow.MAC]timeout // "guard/<port>/<mac>"
}

// timeout is when a declaration is withdrawn; zero for one restored from
// an earlier run and not yet timed (the next Tick or SwitchUp times it).
type timeout struct{ until time.Time }

func (t timeout) expired(now time.Time) bool { return !t.until.IsZero() && !now.Before(t.until) }

// portBlock is a port dropping every source but the learned ones and, for
// a VM port, its own MAC.
type portBlock struct {
	timeout
	own    flow.MAC
	hasOwn bool
	why    reason
}

func (g *portGuard) idle() bool {
	if g.block != nil || len(g.pass) > 0 {
		return false
	}
	for _, w := range g.win {
		if !w.start.IsZero() {
			return false
		}
	}
	return true
}

// switchGuard is the refusal state of one switch, bounded by the caps.
type switchGuard struct {
	ports  map[uint32]*portGuard
	passes int    // pass flows declared on the switch
	other  window // frames on ports past maxGuardedPorts, every reason
	// Log lines in the current summaryEvery; past the budget they fold.
	lines   int
	linesAt time.Time
}

func guardKey(port uint32) string { return "guard/" + strconv.FormatUint(uint64(port), 10) }

func passKey(port uint32, m flow.MAC) string { return guardKey(port) + "/" + m.String() }

// blockFlows is "guard/<port>".
func (a *App) blockFlows(port uint32, b *portBlock) []flow.Flow {
	in := flow.Match{}.InPort(port)
	var fs []flow.Flow
	if b.hasOwn {
		fs = append(fs, flow.Flow{Table: a.o.Learn, Priority: pipeline.L2GuardOwn, Match: in.EthSrc(b.own), Actions: toController})
	}
	return append(fs, flow.Flow{Table: a.o.Learn, Priority: pipeline.L2GuardDrop, Match: in})
}

// passFlow is "guard/<port>/<mac>".
func (a *App) passFlow(port uint32, m flow.MAC) flow.Flow {
	return flow.Flow{Table: a.o.Learn, Priority: pipeline.L2GuardPass, Match: flow.Match{}.InPort(port).EthSrc(m)}.Then(a.o.Forward)
}

var toController = []flow.Action{flow.ToController()}

// ownMAC is the MAC libvirt attached to a VM port, when OVSDB says.
func (a *App) ownMAC(dpid uint64, port uint32) (flow.MAC, bool) {
	if a.o.Topology == nil {
		return flow.MAC{}, false
	}
	p, ok := a.o.Topology.Port(dpid, port)
	if !ok || p.VM == nil || p.VM.MAC == "" {
		return flow.MAC{}, false
	}
	m, err := flow.ParseMAC(p.VM.MAC)
	return m, err == nil
}

// switchGuard returns dpid's refusal state; a.mu is held.
func (a *App) switchGuard(dpid uint64) *switchGuard {
	sg := a.guards[dpid]
	if sg == nil {
		sg = &switchGuard{ports: map[uint32]*portGuard{}}
		a.guards[dpid] = sg
	}
	return sg
}

// portGuard returns port's state, nil when the switch already tracks
// maxGuardedPorts ports; a.mu is held.
func (sg *switchGuard) portGuard(port uint32) *portGuard {
	g := sg.ports[port]
	if g == nil {
		if len(sg.ports) >= maxGuardedPorts {
			return nil
		}
		g = &portGuard{}
		sg.ports[port] = g
	}
	return g
}

// line reports whether the switch's log budget allows one more line now.
func (sg *switchGuard) line(now time.Time) bool {
	if now.Sub(sg.linesAt) >= summaryEvery {
		sg.lines, sg.linesAt = 0, now
	}
	if sg.lines >= maxLinesPerEvery {
		return false
	}
	sg.lines++
	return true
}

// count records one refused frame. The first of a window is logged at
// once with detail, and so is one that made l2 block its port (when the
// budget allows); the rest wait for the summary. a.mu is held.
func (a *App) count(ctx apps.Context, dpid uint64, sg *switchGuard, g *portGuard, port uint32, src flow.MAC, r reason, blocked bool, detail func() string) {
	a.refused++
	w := &sg.other
	if g != nil {
		w = &g.win[r]
	}
	w.last = src
	first := w.start.IsZero()
	if first {
		w.start = ctx.Now()
	}
	if (first || blocked) && g != nil && sg.line(ctx.Now()) {
		ctx.Log().WithFields(logrus.Fields{"port": port, "mac": src.String()}).Warn(a.portLabel(dpid, port) + ": " + detail())
		return
	}
	w.n++
	a.unlogged++
}

// portLabel is "port 3 (vm1)", or "port 3" when its name is unknown;
// a.mu is held.
func (a *App) portLabel(dpid uint64, port uint32) string {
	label := "port " + strconv.FormatUint(uint64(port), 10)
	name := a.ports[dpid][port].name
	if name == "" && a.o.Topology != nil {
		if p, ok := a.o.Topology.Port(dpid, port); ok {
			name = p.Name
		}
	}
	if name != "" {
		label += " (" + name + ")"
	}
	return label
}

// refuseSpoofed handles a frame from a VM port sending as a MAC not its
// own: dropped, and the port blocked at the switch for every source but
// its own.
func (a *App) refuseSpoofed(ctx apps.Context, dpid uint64, port uint32, src, own flow.MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.switchGuard(dpid)
	g := sg.portGuard(port)
	declared := false
	if g != nil && (g.block == nil || !g.block.hasOwn || g.block.own != own) {
		a.declareBlock(ctx, dpid, port, g, &portBlock{own: own, hasOwn: true, why: reasonSpoof})
		declared = true
	}
	a.count(ctx, dpid, sg, g, port, src, reasonSpoof, declared, func() string {
		s := fmt.Sprintf("frame from %s, not the VM's own MAC (libvirt attached-mac %s); dropped", src, own)
		if declared {
			s += fmt.Sprintf(", and the port's other sources dropped at the switch for %s", a.o.SpoofHold)
		}
		return s
	})
}

// refuseFull handles a source l2 cannot learn because the MAC table is
// full: it is flooded (by the caller) and, from now on, forwarded by the
// switch without learning; a port with too many such sources has its
// unknown sources dropped instead.
func (a *App) refuseFull(ctx apps.Context, dpid uint64, port uint32, src flow.MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.switchGuard(dpid)
	g := sg.portGuard(port)
	var what string
	blocked := false
	switch {
	case g == nil, g.block != nil:
		// Untracked, or already dropping at the switch (this one was in flight).
	case hasKey(g.pass, src):
		// Its pass flow is on its way.
	case len(g.pass) < maxPassPerPort && sg.passes < maxPassPerSwitch:
		if g.pass == nil {
			g.pass = map[flow.MAC]timeout{}
		}
		g.pass[src] = timeout{ctx.Now().Add(a.o.SpoofHold)}
		sg.passes++
		ctx.Set(dpid, passKey(port, src), a.passFlow(port, src))
		what = fmt.Sprintf("; the switch forwards it without learning for %s", a.o.SpoofHold)
	default:
		own, hasOwn := a.ownMAC(dpid, port)
		a.declareBlock(ctx, dpid, port, g, &portBlock{own: own, hasOwn: hasOwn, why: reasonFull})
		blocked = true
		what = fmt.Sprintf("; more unlearned sources on this port than Loom forwards one by one (%d per port, %d per switch): its unknown sources are dropped at the switch for %s",
			maxPassPerPort, maxPassPerSwitch, a.o.SpoofHold)
	}
	a.count(ctx, dpid, sg, g, port, src, reasonFull, blocked, func() string {
		return fmt.Sprintf("MAC table full (max_macs %d); %s flooded without learning%s", a.o.MaxMACs, src, what)
	})
}

func hasKey(m map[flow.MAC]timeout, k flow.MAC) bool { _, ok := m[k]; return ok }

// refuseHeld counts a frame from a MAC held down on a second port. No flow:
// the hold-down has to see the MAC keep appearing there.
func (a *App) refuseHeld(ctx apps.Context, dpid uint64, port uint32, src flow.MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.switchGuard(dpid)
	a.count(ctx, dpid, sg, sg.portGuard(port), port, src, reasonHeld, false, func() string {
		return fmt.Sprintf("%s seen here while its port is up; held down, not moved (move_holddown %s)", src, a.o.HoldDown)
	})
}

// declareBlock sets g's port block to b, timed from now; a.mu is held.
func (a *App) declareBlock(ctx apps.Context, dpid uint64, port uint32, g *portGuard, b *portBlock) {
	b.until = ctx.Now().Add(a.o.SpoofHold)
	g.block = b
	ctx.Set(dpid, guardKey(port), a.blockFlows(port, b)...)
}

// learnedPass withdraws src's pass flow once src is learned on port.
func (a *App) learnedPass(ctx apps.Context, dpid uint64, port uint32, src flow.MAC) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.guards[dpid]
	if sg == nil {
		return
	}
	if g := sg.ports[port]; g != nil && hasKey(g.pass, src) {
		delete(g.pass, src)
		sg.passes--
		ctx.Delete(dpid, passKey(port, src))
	}
}

// unguard withdraws everything declared for a port that went down or away
// and forgets its state; a.mu is held.
func (a *App) unguard(ctx apps.Context, dpid uint64, port uint32) {
	sg := a.guards[dpid]
	if sg == nil {
		return
	}
	g := sg.ports[port]
	if g == nil {
		return
	}
	if g.block != nil {
		ctx.Delete(dpid, guardKey(port))
	}
	for m := range g.pass {
		ctx.Delete(dpid, passKey(port, m))
		sg.passes--
	}
	delete(sg.ports, port)
	if len(sg.ports) == 0 && sg.other.start.IsZero() {
		delete(a.guards, dpid)
	}
}

// tickGuards times restored declarations, withdraws expired ones, logs the
// summaries that are due and forgets quiet ports.
func (a *App) tickGuards(ctx apps.Context, dpid uint64) {
	now := ctx.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.guards[dpid]
	if sg == nil {
		return
	}
	type due struct {
		port uint32
		r    reason
		w    window
	}
	var dues []due
	for port, g := range sg.ports {
		if b := g.block; b != nil {
			switch {
			case b.until.IsZero(): // restored: held from now, with the port's MAC as it is now
				b.until = now.Add(a.o.SpoofHold)
				b.own, b.hasOwn = a.ownMAC(dpid, port)
				ctx.Set(dpid, guardKey(port), a.blockFlows(port, b)...)
			case b.expired(now):
				g.block = nil
				ctx.Delete(dpid, guardKey(port))
			}
		}
		for m, t := range g.pass {
			switch {
			case t.until.IsZero():
				g.pass[m] = timeout{now.Add(a.o.SpoofHold)}
			case t.expired(now):
				delete(g.pass, m)
				sg.passes--
				ctx.Delete(dpid, passKey(port, m))
			}
		}
		for r := range g.win {
			w := &g.win[r]
			if w.start.IsZero() || now.Sub(w.start) < summaryEvery {
				continue
			}
			if w.n > 0 {
				dues = append(dues, due{port, reason(r), *w})
				w.start, w.n = now, 0 // a window for the next summary
			} else {
				*w = window{} // quiet: the next frame gets a line of its own
			}
		}
		if g.idle() {
			delete(sg.ports, port)
		}
	}
	sort.Slice(dues, func(i, j int) bool {
		if dues[i].port != dues[j].port {
			return dues[i].port < dues[j].port
		}
		return dues[i].r < dues[j].r
	})
	var foldFrames uint64
	for _, d := range dues {
		if !sg.line(now) {
			foldFrames += d.w.n
			continue
		}
		ctx.Log().WithFields(logrus.Fields{"port": d.port, "mac": d.w.last.String(), "frames": d.w.n}).Warn(fmt.Sprintf("%s: %s frames %s in the last %s",
			a.portLabel(dpid, d.port), grouped(d.w.n), reasonSummary[d.r], now.Sub(d.w.start).Round(time.Second)))
	}
	if w := &sg.other; !w.start.IsZero() && now.Sub(w.start) >= summaryEvery {
		if w.n > 0 {
			foldFrames += w.n
		}
		*w = window{}
	}
	if foldFrames > 0 {
		ctx.Log().WithField("frames", foldFrames).Warn(fmt.Sprintf("%s more frames refused in the last %s on ports not logged one by one (%d log lines per switch per %s)",
			grouped(foldFrames), summaryEvery, maxLinesPerEvery, summaryEvery))
	}
	if len(sg.ports) == 0 && sg.other.start.IsZero() {
		delete(a.guards, dpid)
	}
}

// refreshGuards follows a change of a guarded VM port's MAC in OVSDB: its
// block is declared again with the new MAC, or withdrawn when the port is
// no longer a VM port it was blocked as.
func (a *App) refreshGuards(ctx apps.Context, dpid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.guards[dpid]
	if sg == nil {
		return
	}
	for port, g := range sg.ports {
		b := g.block
		if b == nil || b.until.IsZero() {
			continue
		}
		own, ok := a.ownMAC(dpid, port)
		switch {
		case !ok && b.why == reasonSpoof:
			g.block = nil
			ctx.Delete(dpid, guardKey(port))
		case ok != b.hasOwn || own != b.own:
			b.own, b.hasOwn = own, ok
			ctx.Set(dpid, guardKey(port), a.blockFlows(port, b)...)
		}
	}
}

// restoreGuard rebuilds a refusal declared by an earlier run; it is timed
// (held for SpoofHold from then) at the switch's next SwitchUp or Tick.
func (a *App) restoreGuard(dpid uint64, rest string) {
	portText, macText, perSource := strings.Cut(rest, "/")
	port, err := strconv.ParseUint(portText, 10, 32)
	if err != nil {
		return
	}
	var m flow.MAC
	if perSource {
		if m, err = flow.ParseMAC(macText); err != nil {
			return
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	sg := a.switchGuard(dpid)
	g := sg.ports[uint32(port)]
	if g == nil { // what an earlier run declared was bounded already: no cap here, or it would stay declared for good
		g = &portGuard{}
		sg.ports[uint32(port)] = g
	}
	switch {
	case !perSource:
		g.block = &portBlock{why: reasonFull}
	case !hasKey(g.pass, m):
		if g.pass == nil {
			g.pass = map[flow.MAC]timeout{}
		}
		g.pass[m] = timeout{}
		sg.passes++
	}
}

// grouped writes n with thousands separators: 5,123.
func grouped(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
