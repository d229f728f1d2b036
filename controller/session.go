package controller

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// session is one switch connection after its handshake: it owns the
// switch's event order, its reconciler and its view of the ports.
type session struct {
	c      *Controller
	conn   *openflow.Conn
	dpid   uint64
	log    *logrus.Entry
	events chan any   // openflow.Message from the switch, or tick from an app's ticker
	pkts   *fairQueue // packet-ins, per input port, served round-robin
	portq  *portQueue // port-status messages, latest per port
	// refreshes coalesces Refresh requests into one turn at a time.
	refreshes *refreshState
	kick      chan struct{} // another switch's handler declared flows for this one
	done      chan struct{} // closed once the session has fully ended
	// changedOnConnect is how many flow-mods the first reconcile needed:
	// zero after a controller restart that changed nothing.
	changedOnConnect int
	rec              *reconciler
	sw               apps.Switch
	// ofPorts are the ports as PORT_DESC described them, for the topology.
	ofPorts []openflow.Port
	remote  string
	tlsPeer *string // the TLS client certificate's CN; nil when not TLS
	errors  errorRing
	// setupGen is the controller's missed-refresh generation when
	// SwitchUp ran: a Refresh after it may have skipped this session (not
	// ready yet), so the session refreshes itself once ready.
	setupGen uint64
	// unknownErrs summarises switch errors that name no request Loom
	// remembers: a peer can send any number of them.
	unknownErrs lineWindow
	role        roleState
	cluster     clusterRole // in a cluster: the role the election gives
	meterXid    uint32      // the controller meter's add, to name its refusal
	// topoToken is the topology's token for this connection, for the
	// disconnect.
	topoToken uint64
	portLines lineWindow
	// turnMods counts the flow-mods of the refresh turn running (session
	// goroutine only).
	turnMods int
}

// portLinesPerWindow port changes are logged one by one per window; the
// rest are summed up.
const portLinesPerWindow = 32

// noteError records a switch error the reconciler saw, and steps back
// when it says another controller is master.
func (s *session) noteError(e SwitchError) {
	s.errors.add(e)
	what := e.Error
	if e.App != "" {
		what += fmt.Sprintf(" (app %s, key %s): %s", e.App, e.Key, e.Flow)
	}
	s.c.Emit(EventSwitchError, s.c.switchName(s.dpid), what)
	if isSlaveError(e) {
		s.demote("the switch refused a write: this loomd is not its master")
	}
}

// kickSelf asks the session's loop for a pass over its dirty flows.
func (s *session) kickSelf() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// runSession drives one connection from HELLO to disconnect. Whatever ends
// it, it logs exactly one line saying why.
//
// A panic anywhere in a session (a bug, reached by what a peer sent) ends
// that session with an error line and its stack, never the process.
func (c *Controller) runSession(ctx context.Context, nc net.Conn) {
	remote := remoteString(nc)
	log := c.log.WithFields(connFields(nc)) // remote, and tls_peer for TLS
	start := time.Now()
	conn := openflow.NewConn(nc, c.cfg.OpenFlow)
	defer conn.Close()
	defer func() {
		if r := recover(); r != nil {
			c.stats.sessionPanics.Add(1)
			log.WithFields(logrus.Fields{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error(
				"session failed on a bug; connection closed (please report this line)")
		}
	}()
	if _, err := conn.Handshake(); err != nil {
		c.stats.rejectedConns.Add(1)
		log.WithError(err).Warn("OpenFlow handshake failed; connection closed")
		return
	}
	s := &session{c: c, conn: conn, log: log, remote: remote, tlsPeer: tlsPeerOf(nc), events: make(chan any, notificationQueue),
		pkts: newFairQueue(max(16, c.cfg.EventQueue/8), c.cfg.EventQueue), portq: newPortQueue(maxPendingPorts),
		refreshes: newRefreshState(),
		kick:      make(chan struct{}, 1), done: make(chan struct{})}
	s.cluster.kick = make(chan struct{}, 1)
	defer close(s.done)
	served := make(chan error, 1)
	go func() { served <- conn.Serve(s.enqueue) }()

	if err := s.setup(ctx); err != nil {
		if cerr := conn.Err(); cerr != nil {
			err = cerr // the peer broke the connection: that is the news, not the request it interrupted
		}
		conn.Close()
		<-served
		c.stats.rejectedConns.Add(1)
		s.log.WithError(err).Warn("switch setup failed; connection closed")
		return
	}
	defer c.reg.release(s)
	c.reg.markReady(s)
	if c.cfg.Cluster != nil {
		defer c.cfg.Cluster.Reach(s.dpid, s.toldRole)() // told its role at once, then at each change
	}
	if c.missedGen.Load() != s.setupGen {
		s.refresh() // a policy change went by while this switch was in setup
	}
	s.kickSelf() // and declarations for it made meanwhile
	s.topologyUp()
	c.hv.switchFrom(s.conn.RemoteAddr())
	s.log.WithFields(logrus.Fields{"ports": len(s.sw.Ports), "tables": s.sw.Tables, "flows": c.desired.count(s.dpid),
		"flow_mods": s.changedOnConnect, "bundles": s.rec.bundles, "took": time.Since(start).Round(time.Millisecond)}).Info("switch connected")
	c.Emitf(EventSwitch, c.switchName(s.dpid), "connected from %s (%d ports; %d flow-mods to take the desired state)", s.remote, len(s.sw.Ports), s.changedOnConnect)
	reason := s.loop(ctx, served)
	if ctx.Err() != nil {
		// loomd is stopping, the switch is not leaving: it keeps its flows
		// (fail mode secure), the saved model keeps it as it was, and the
		// next loomd picks it up from there. Telling every app and the
		// model that thousands of switches left would only delay the exit.
		s.log.WithField("reason", reason.Error()).Debug("switch session closed")
		return
	}
	s.switchDown()
	if c.disc != nil {
		c.disc.add(s.dpid, s.topoToken) // batched: a session does not wait on the model to end
	}
	s.log.WithField("reason", reason.Error()).Info("switch disconnected")
	c.Emitf(EventSwitch, c.switchName(s.dpid), "disconnected: %v", reason)
}

func remoteString(nc net.Conn) string {
	if a := nc.RemoteAddr(); a != nil && a.String() != "" && a.String() != "@" {
		return a.String()
	}
	return "unix:" + nc.LocalAddr().String()
}

// setup runs FEATURES, registration, PORT_DESC, SET_CONFIG and the first
// full install of the switch's desired flows, confirmed by a barrier.
//
// The whole of it is bounded by 3 request timeouts: a switch answering
// each request just in time cannot stay in setup (holding its dpid, and
// invisible to policy changes) for minutes.
func (s *session) setup(ctx context.Context) error {
	ctx, cancelSetup := context.WithTimeout(ctx, 3*s.c.cfg.RequestTimeout)
	defer cancelSetup()
	req := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, s.c.cfg.RequestTimeout)
	}
	rctx, cancel := req()
	m, err := s.conn.Request(rctx, openflow.FeaturesRequest)
	cancel()
	if err != nil {
		return fmt.Errorf("features request: %w", err)
	}
	f, ok := m.(*openflow.FeaturesReply)
	if !ok { // the connection checks reply types; this is the belt to its braces
		return fmt.Errorf("features request: answered with %s", openflow.TypeName(m.Hdr().Type))
	}
	if f.AuxiliaryID != 0 {
		return fmt.Errorf("auxiliary connection %d for dpid 0x%016x: not supported", f.AuxiliaryID, f.DPID)
	}
	s.dpid = f.DPID
	s.log = s.log.WithField("dpid", fmt.Sprintf("0x%016x", f.DPID))
	if err := s.c.reg.claim(ctx, s, s.c.cfg.OpenFlow.EchoInterval+time.Second); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	roleAnswer := func() error { return nil }
	if s.c.cfg.Cluster == nil {
		roleAnswer = s.requestMaster(ctx)
	} else {
		// A cluster member writes nothing until elected (mastership.go).
		why := "waiting for the cluster's election"
		s.role.expected.Store(true)
		s.role.passive.Store(true)
		s.role.reason.Store(&why)
	}
	rctx, cancel = req()
	body, err := s.conn.Multipart(rctx, openflow.MultipartRequest{MPType: openflow.MultipartPortDesc})
	cancel()
	if err != nil {
		s.c.reg.release(s)
		return fmt.Errorf("port description: %w", err)
	}
	ports, _ := openflow.ParsePortDescs(body) // each part was validated on arrival
	s.ofPorts = ports
	s.sw = apps.Switch{DPID: f.DPID, Remote: s.conn.RemoteAddr(), Tables: f.Tables}
	for _, p := range ports {
		s.sw.Ports = append(s.sw.Ports, toAppPort(p))
	}
	// Whole packets, never switch buffers: apps see the full frame and a
	// buffer can never expire under them.
	if _, err := s.conn.Send(openflow.SetConfig{Flags: openflow.ConfigFragNormal, MissSendLen: openflow.ControllerMax}); err != nil {
		s.c.reg.release(s)
		return err
	}
	if s.c.cfg.Cluster == nil {
		s.setControllerMeter() // in a cluster, the master's, once confirmed (takeOver)
	}
	s.installTableMisses()
	s.setupGen = s.c.missedGen.Load()
	for _, a := range s.c.apps {
		if h, ok := a.(apps.SwitchHandler); ok {
			s.call(a, func(ctx apps.Context) { h.SwitchUp(ctx, s.sw) })
		}
	}
	// Only now: declarations made during SwitchUp go out in the one full
	// reconcile below rather than piecemeal.
	if err := roleAnswer(); err != nil {
		s.c.reg.release(s)
		return err
	}
	s.rec = newReconciler(connAdapter{s.conn}, s.dpid, s.c.desired, s.log, &s.c.stats, s.c.cfg.RequestTimeout, s.c.cfg.Foreign)
	s.rec.onError = s.noteError
	if s.role.passive.Load() {
		return nil // connected, watched, never written to
	}
	s.rec.startProbe(ctx) // answered while the flows are dumped
	n, err := s.rec.full(ctx)
	if errors.Is(err, errRejected) {
		// The switch keeps its table; the error it sent names the flow,
		// which is held back, and the next verify pass applies the rest.
		s.log.WithError(err).Warn("initial reconcile refused by the switch")
	} else if err != nil {
		s.c.reg.release(s)
		return fmt.Errorf("initial reconcile: %w", err)
	}
	s.changedOnConnect = n
	return nil
}

// installTableMisses declares each app table's miss flow, owned by the app.
func (s *session) installTableMisses() {
	for _, a := range s.c.apps {
		for _, t := range a.Tables() {
			s.c.desired.set(s.dpid, owner{a.Name(), apps.TableMissKey(t.ID)}, a.ID(), []flow.Flow{t.MissFlow()})
		}
	}
}

// topologyUp tells the topology the switch is here, with its ports.
func (s *session) topologyUp() {
	top := s.c.cfg.Topology
	if top == nil {
		return
	}
	var ports []topology.OFPort
	for _, p := range s.ofPorts {
		ports = append(ports, ofPort(p))
	}
	s.topoToken = top.SwitchConnected(s.dpid, s.remote, ports)
}

func ofPort(p openflow.Port) topology.OFPort {
	return topology.OFPort{No: p.No, Name: p.Name, MAC: p.HWAddr.String(), Up: p.Up(), SpeedKbps: p.CurrSpeed}
}

func toAppPort(p openflow.Port) apps.Port {
	var mac flow.MAC
	copy(mac[:], p.HWAddr)
	return apps.Port{No: p.No, Name: p.Name, MAC: mac, Up: p.Up()}
}

// enqueue runs on the connection's read goroutine: it must never block for
// long, or echo replies stall and the switch drops us. Packet-ins go to
// the fair queue (beyond their port's share or the backlog they are
// dropped and counted); everything else waits.
//
// Port-status messages are coalesced per port; anything else beyond the
// backlog is dropped and counted. The reader never blocks: a switch
// storming notifications still has its echo and request replies read.
func (s *session) enqueue(m openflow.Message) {
	switch m := m.(type) {
	case *openflow.PacketIn:
		if !s.pkts.push(m) {
			s.c.stats.packetInDropped.Add(1)
		}
		return
	case *openflow.PortStatus:
		if !s.portq.push(m) {
			s.conn.CloseWithError(fmt.Errorf("more than %d ports changed and not yet handled: refusing a port-status storm", maxPendingPorts))
		}
		return
	}
	select {
	case s.events <- m:
	default:
		s.c.stats.eventsDropped.Add(1)
	}
}

// notificationQueue is the backlog of a session's other events (errors,
// flow removals, calls, ticks): packet-ins and port changes have queues
// of their own, so this one is small, which an idle switch's memory
// feels (it is allocated per session).
const notificationQueue = 64

// maxPendingPorts bounds the distinct ports whose change waits.
const maxPendingPorts = 65536

// loop handles events in arrival order until the connection ends.
func (s *session) loop(ctx context.Context, served chan error) error {
	verify := time.NewTicker(s.c.cfg.VerifyInterval)
	defer verify.Stop()
	ticks := s.newTickers(time.Now())
	timer := time.NewTimer(ticks.wait(time.Now()))
	defer timer.Stop()
	for {
		select {
		case now := <-timer.C:
			for _, a := range ticks.due(now) {
				s.handle(tick{a})
			}
			timer.Reset(ticks.wait(time.Now()))
		case <-verify.C:
			s.rec.sent.age()
			s.verify(ctx)
		case err := <-served:
			return err
		case <-ctx.Done():
			s.conn.Close()
			<-served
			return errors.New("controller shutting down")
		case <-s.kick:
			s.reconcileDirty(ctx)
		case <-s.refreshes.kick:
			s.refreshTurn()
		case <-s.cluster.kick:
			s.roleTurn(ctx)
		case m := <-s.events:
			s.handle(m)
		case <-s.portq.ready:
			turn(s, s.portq.pop)
		case <-s.pkts.ready:
			turn(s, s.pkts.pop)
		}
	}
}

// turn handles up to packetTurn messages from one queue: a bounded turn,
// so ticks, calls and the other queue are not starved by a busy switch.
func turn[M openflow.Message](s *session, pop func() (M, bool)) {
	for i := 0; i < packetTurn; i++ {
		m, ok := pop()
		if !ok {
			return
		}
		s.handle(m)
	}
}

// packetTurn is how many packet-ins the loop handles before it looks at
// its other events again.
const packetTurn = 64

// tick is an app's periodic turn on this switch.
type tick struct{ app apps.App }

func (s *session) handle(ev any) {
	switch e := ev.(type) {
	case tick:
		s.call(e.app, func(ctx apps.Context) { e.app.(apps.Ticker).Tick(ctx, s.sw) })
		return
	case sessionCall:
		e.fn()
		close(e.done)
		return
	}
	m := ev.(openflow.Message)
	switch m := m.(type) {
	case *openflow.PacketIn:
		s.c.stats.packetIns.Add(1)
		s.packetIn(m)
	case *openflow.PortStatus:
		s.portStatus(m)
	case *openflow.ErrorMsg:
		s.switchError(m)
	case *openflow.FlowRemoved, *openflow.Echo, *openflow.BarrierReply, *openflow.MultipartReply:
		// Replies whose requester gave up, and removals of flows Loom
		// never asks to hear about: nothing to do.
	default:
		s.log.WithField("type", openflow.TypeName(m.Hdr().Type)).Debug("ignoring unsolicited message")
	}
}

func (s *session) packetIn(m *openflow.PacketIn) {
	if s.c.cfg.Cluster != nil && s.role.passive.Load() {
		// Only a switch's master learns from it (a connection is EQUAL,
		// and hears packet-ins, until its first role request): every
		// instance then holds what the master declared, not a mix.
		return
	}
	pkt := apps.PacketIn{DPID: s.dpid, InPort: m.InPort, TableID: m.TableID, Cookie: flow.Cookie(m.Cookie),
		BufferID: m.BufferID, Data: m.Data}
	s.c.packets.publish(pkt, s.c.now)
	// The cookie of the flow that sent the packet names the app that wants it.
	if pkt.Cookie.IsLoom() && pkt.Cookie.App() == externalID {
		return // an external app's flow: only API subscribers want it
	}
	if pkt.Cookie.IsLoom() {
		if a, ok := s.c.byID[pkt.Cookie.App()]; ok {
			if h, ok := a.(apps.PacketHandler); ok {
				s.call(a, func(ctx apps.Context) { h.PacketIn(ctx, pkt) })
			}
			return
		}
	}
	for _, a := range s.c.apps {
		if h, ok := a.(apps.PacketHandler); ok {
			s.call(a, func(ctx apps.Context) { h.PacketIn(ctx, pkt) })
		}
	}
}

func (s *session) portStatus(m *openflow.PortStatus) {
	p := toAppPort(m.Port)
	change := apps.PortModified
	switch m.Reason {
	case openflow.PortReasonAdd:
		change = apps.PortAdded
	case openflow.PortReasonDelete:
		change = apps.PortDeleted
	}
	s.updatePort(change, p)
	if top := s.c.cfg.Topology; top != nil {
		top.PortChanged(s.dpid, ofPort(m.Port), change == apps.PortDeleted)
	}
	if s.portLines.allow(time.Now(), portLinesPerWindow, errorLogEvery) {
		s.log.WithFields(logrus.Fields{"port": p.No, "name": p.Name, "change": change.String(), "up": p.Up}).Info("port changed")
	} else if n, due := s.portLines.summary(time.Now(), errorLogEvery); due {
		s.log.WithField("changes", n).Info("more ports changed than are logged one by one")
	}
	for _, a := range s.c.apps {
		if h, ok := a.(apps.PortHandler); ok {
			s.call(a, func(ctx apps.Context) { h.PortChanged(ctx, s.dpid, change, p) })
		}
	}
}

func (s *session) updatePort(change apps.PortChange, p apps.Port) {
	ports := s.sw.Ports[:0:0]
	for _, q := range s.sw.Ports {
		if q.No != p.No {
			ports = append(ports, q)
		}
	}
	if change != apps.PortDeleted {
		ports = append(ports, p)
	}
	s.sw.Ports = ports
}

// switchError logs an error the switch returned for something Loom sent
// without waiting, naming the flow and app when it was a flow-mod.
// An error naming no request Loom remembers is counted and logged in a
// summary at most once per errorLogEvery: anything can be sent with a
// made-up xid, and one line per message would let a peer flood the log.
func (s *session) switchError(e *openflow.ErrorMsg) {
	s.c.stats.switchErrors.Add(1)
	log := s.log.WithFields(logrus.Fields{"xid": e.Xid, "error": openflow.ErrorName(e.ErrType, e.Code)})
	rec := SwitchError{Time: s.c.now(), Error: openflow.ErrorName(e.ErrType, e.Code)}
	if s.meterRefused(e) {
		return
	}
	o, ok := s.rec.sent.get(e.Xid)
	if !ok {
		s.noteError(rec)
		s.c.stats.unknownErrors.Add(1)
		now := time.Now()
		if s.unknownErrs.allow(now, 1, errorLogEvery) {
			log.Warn("switch sent an error naming no request Loom remembers")
		} else if n, due := s.unknownErrs.summary(now, errorLogEvery); due {
			log.WithField("errors", n).Warn("switch sent more errors naming no request Loom remembers")
		}
		return
	}
	rec.App, rec.Key, rec.Flow = o.owner.app, o.owner.key, o.flow.String()
	s.noteError(rec)
	s.rec.refused(o)
	log.WithFields(logrus.Fields{"app": o.owner.app, "key": o.owner.key, "flow": o.flow.String(),
		"command": commandName(o.cmd)}).Warn("switch rejected a message")
}

// errorLogEvery spaces summary lines about unmatched switch errors.
const errorLogEvery = 10 * time.Second

func (s *session) switchDown() {
	for _, a := range s.c.apps {
		if h, ok := a.(apps.SwitchHandler); ok {
			s.call(a, func(ctx apps.Context) { h.SwitchDown(ctx, s.dpid) })
		}
	}
}

// call runs one app handler and then carries out what it declared: flows
// first, then packet-outs, so a packet sent back through the pipeline meets
// the flows its own packet-in caused, then the refreshes it asked for. A panicking app is logged and the
// event dropped; it never takes the process down.
func (s *session) call(a apps.App, fn func(apps.Context)) {
	ctx := s.c.newContext(a, s.log)
	ctx.sess = s
	func() {
		defer func() {
			if r := recover(); r != nil {
				ctx.Log().WithField("panic", fmt.Sprint(r)).Error("app handler panicked; event dropped")
			}
		}()
		fn(ctx)
	}()
	for dpid := range ctx.touched {
		if dpid == s.dpid {
			if s.rec != nil {
				s.reconcileDirty(context.Background())
			}
			continue
		}
		if other := s.c.reg.get(dpid); other != nil {
			other.kickSelf()
		}
	}
	for _, po := range ctx.outs {
		target := s
		if po.DPID != s.dpid {
			if target = s.c.reg.get(po.DPID); target == nil {
				continue
			}
		}
		target.packetOut(po)
	}
	for _, dpid := range ctx.refreshes {
		s.c.requestRefresh(dpid)
	}
}

func (s *session) packetOut(po apps.PacketOut) {
	if s.role.passive.Load() {
		return // not master: the switch refuses it (OFPBRC_IS_SLAVE)
	}
	in := po.InPort
	if in == 0 {
		in = openflow.PortController
	}
	if _, err := s.conn.Send(openflow.PacketOut{BufferID: openflow.NoBuffer, InPort: in,
		Actions: flow.WireActions(po.Actions), Data: po.Data}); err == nil {
		s.c.stats.packetOuts.Add(1)
	}
}

// reconcileDirty sends the changes declared since the last pass; when the
// change is contested it falls back to a full reconcile.
func (s *session) reconcileDirty(ctx context.Context) {
	if s.role.passive.Load() {
		return
	}
	n, err := s.rec.incremental(ctx, s.c.desired.takeDirty(s.dpid))
	if errors.Is(err, errNeedFull) {
		n, err = s.rec.full(ctx)
	}
	s.turnMods += n // a refresh turn's share, for the policy event
	if err != nil {
		s.log.WithError(err).Warn("applying flow changes failed; the next verify pass retries")
	}
}

// verify re-reads the switch's table and repairs any drift from the
// desired state: flows deleted, modified or added behind Loom's back.
func (s *session) verify(ctx context.Context) {
	if s.role.passive.Load() {
		return
	}
	n, err := s.rec.full(ctx)
	if err != nil {
		s.log.WithError(err).Warn("verify pass failed; retrying next period")
		return
	}
	if n > 0 {
		s.c.stats.driftRepairs.Add(uint64(n))
		s.log.WithField("flow_mods", n).Info("repaired drift between the switch and the desired state")
		s.c.Emitf(EventDrift, s.c.switchName(s.dpid), "repaired drift: %d flow-mods put the desired flows back: %s", n, strings.Join(s.rec.lastOps, "; "))
	}
}

func commandName(cmd uint8) string {
	switch cmd {
	case openflow.FlowAdd:
		return "add"
	case openflow.FlowModifyStrict:
		return "modify-strict"
	case openflow.FlowDeleteStrict:
		return "delete-strict"
	case openflow.FlowDelete:
		return "delete"
	}
	return fmt.Sprint(cmd)
}

// probe checks the session's peer is alive with an echo round trip.
func (s *session) probe(ctx context.Context) error {
	_, err := s.conn.Request(ctx, openflow.EchoMsg{})
	return err
}
