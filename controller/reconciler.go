package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
)

// ofConn is the part of an OpenFlow connection the reconciler uses.
type ofConn interface {
	Send(m openflow.Outgoing) (uint32, error)
	Request(ctx context.Context, m openflow.Outgoing) (openflow.Message, error)
	// Begin sends a request now and returns the wait for its reply, so
	// several requests share one round trip.
	Begin(ctx context.Context, m openflow.Outgoing) func() (openflow.Message, error)
	Multipart(ctx context.Context, m openflow.MultipartRequest) ([]byte, error)
	Watch() errorWatch
}

// errorWatch is openflow.ErrorWatch as the reconciler uses it.
type errorWatch interface {
	Send(m openflow.Outgoing) (uint32, error)
	Errors() []*openflow.ErrorMsg
	Close()
}

// connAdapter gives an *openflow.Conn the ofConn shape.
type connAdapter struct{ *openflow.Conn }

func (c connAdapter) Watch() errorWatch { return c.Conn.Watch() }

// ForeignPolicy says what to do with flows whose cookie is not Loom's.
type ForeignPolicy int

const (
	// KeepForeign leaves other controllers' and operators' flows alone.
	KeepForeign ForeignPolicy = iota
	// RemoveForeign deletes them: Loom owns the whole table.
	RemoveForeign
)

// xidsKept is how many recent flow-mods can be traced back from an error.
const xidsKept = 8192

// bundleMin is the smallest incremental change sent as a bundle; smaller
// ones (a learning switch's two flows) go as ordered flow-mods, which
// saves a round trip on the packet-in path.
const bundleMin = 3

// staleReplaceMin is how many stale flows (Loom-marked flows nobody
// declares, and foreign ones under RemoveForeign) a switch may hold before
// a full pass stops deleting them one by one: past max(staleReplaceMin,
// desired flows), a switch that takes bundles gets one non-strict delete
// of every Loom-marked flow and an add of every desired flow, in one
// atomic bundle.
const staleReplaceMin = 10_000

// staleDeletesPerPass caps the delete-stricts one full pass sends a switch
// without bundles (where a bulk delete would leave a gap until the adds
// land); later verify passes delete the rest.
const staleDeletesPerPass = 50_000

// reconciler keeps one switch's flow table equal to the desired state.
//
// A full reconcile (on connect, every verify period, after a conflict)
// reads the switch's table, diffs it against the desired state and sends
// only the difference: add, modify-strict, delete-strict, in one ordered
// atomic bundle followed by a barrier. The dump is walked in place, flow
// by flow, so a pass costs memory for the desired flows and the ops, not
// for the switch's table; a switch holding more stale Loom-marked flows
// than max(staleReplaceMin, desired) has its table replaced in one bundle
// (one cookie-masked delete, then every desired flow) rather than getting
// a delete-strict per stale flow. Full recompute is always correct;
// the incremental path (after an app handler) is an optimisation that
// diffs only the owners that changed against what the reconciler believes
// the switch holds, and falls back to a full reconcile when unsure.
type reconciler struct {
	// lastOps names the first few flow-mods the last full pass sent, for
	// the drift event ("modify-strict table=4, ... (l2 mac/...)").
	lastOps []string
	conn    ofConn
	dpid    uint64
	desired *desiredStore
	log     *logrus.Entry
	stats   *Stats
	timeout time.Duration
	foreign ForeignPolicy

	bundles  bool   // the switch accepts ONF bundles
	bundleID uint32 // last bundle id used
	// probed, when set, waits for the bundle probe's answers and sets
	// bundles: asked at setup beside the flow dump, awaited when first
	// needed.
	probed func()

	// installed is what the switch holds of Loom's flows, as far as the
	// reconciler knows: by key, with the owner that declared each.
	installed map[flow.Key]claim
	byOwner   map[owner][]flow.Key
	sent      *xidRing
	// held are flows the switch refused: not offered again until their
	// owner declares something else for that key, so one bad flow cannot
	// block every later change. The switch keeps what it has at that key.
	held map[flow.Key]string
	// onError, when set, hears of every flow the switch refused.
	onError func(SwitchError)
}

func newReconciler(conn ofConn, dpid uint64, d *desiredStore, log *logrus.Entry, st *Stats, timeout time.Duration, fp ForeignPolicy) *reconciler {
	return &reconciler{conn: conn, dpid: dpid, desired: d, log: log, stats: st, timeout: timeout, foreign: fp,
		installed: make(map[flow.Key]claim), byOwner: make(map[owner][]flow.Key), sent: newXidRing(xidsKept),
		held: make(map[flow.Key]string)}
}

// op is one flow-mod of a diff, with the owner it is done for.
type op struct {
	cmd   uint8
	owner owner
	flow  flow.Flow      // the desired flow (add, modify) or the one removed
	raw   []openflow.OXM // delete of a flow Loom cannot model: its match as reported
	// wire, when set, is the message itself: the bulk delete of a table
	// replacement, or a held flow put back as the switch had it.
	wire *openflow.FlowMod
}

func (o op) flowMod() openflow.FlowMod {
	if o.wire != nil {
		return *o.wire
	}
	fm := o.flow.FlowMod(o.cmd)
	if o.raw != nil {
		fm.Match = o.raw
	}
	return fm
}

// probeBundles finds out whether the switch takes bundles: open one, then
// discard it.
// startProbe asks whether the switch takes bundles (open one, discard
// it) without waiting: the answers come back while the flow dump is read,
// and awaitProbe collects them before the first change needs to know.
func (r *reconciler) startProbe(ctx context.Context) {
	r.bundleID++
	id := r.bundleID
	pctx, cancel := context.WithTimeout(ctx, r.timeout)
	open := r.conn.Begin(pctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleOpenRequest, Flags: openflow.BundleAtomic | openflow.BundleOrdered})
	discard := r.conn.Begin(pctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleDiscardRequest})
	r.probed = func() {
		defer cancel()
		_, err := open()
		_, _ = discard() // its answer matters not; only that it is not left pending
		if err != nil {
			r.log.WithError(err).Info("switch does not take bundles; changes go as ordered flow-mods and a barrier")
			return
		}
		r.bundles = true
	}
}

// awaitProbe settles r.bundles if a probe is out.
func (r *reconciler) awaitProbe() {
	if p := r.probed; p != nil {
		r.probed = nil
		p()
	}
}

func (r *reconciler) request(ctx context.Context, m openflow.Outgoing) (openflow.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.conn.Request(ctx, m)
}

// full reads the switch's table and makes it equal to the desired state.
// It returns the number of flow-mods sent.
// maxNamedOps is how many of a full pass's flow-mods lastOps names.
const maxNamedOps = 5

func (r *reconciler) full(ctx context.Context) (int, error) {
	dumpCtx, cancel := context.WithTimeout(ctx, r.timeout)
	body, err := dumpFlowBody(dumpCtx, r.conn)
	cancel()
	r.awaitProbe() // its answers came before the dump's
	if err != nil {
		return 0, err
	}
	dumped := time.Now()
	want := r.desired.snapshot(r.dpid, r.log, r.stats)
	hold := r.holdRefused(want)
	p, err := r.planBody(body, want, hold)
	if err != nil {
		return 0, fmt.Errorf("dumping flows: %w", err)
	}
	diffed := time.Now()
	defer func() {
		if len(p.ops) > 0 {
			r.log.WithFields(logrus.Fields{"flows_on_switch": p.flows, "desired": len(want), "flow_mods": len(p.ops),
				"diff": diffed.Sub(dumped).Round(time.Millisecond), "apply": time.Since(diffed).Round(time.Millisecond)}).Debug("full reconcile")
		}
	}()
	if err := r.apply(ctx, p.ops, true); err != nil {
		// The switch kept its table: believe the dump, not the diff.
		r.believe(p.seen)
		return 0, err
	}
	r.believe(nil)
	r.lastOps = r.lastOps[:0]
	for i, o := range p.ops {
		if i == maxNamedOps {
			r.lastOps = append(r.lastOps, fmt.Sprintf("and %d more", len(p.ops)-maxNamedOps))
			break
		}
		what := commandName(o.cmd) + " " + o.flow.String()
		if o.owner.app != "" {
			what += " (" + o.owner.app + " " + o.owner.key + ")"
		}
		r.lastOps = append(r.lastOps, what)
	}
	for k := range hold { // what was held keeps the switch's version
		if c, ok := p.seen[k]; ok {
			r.installed[k] = c
		}
	}
	for k, w := range want {
		r.installed[k] = w
		r.byOwner[w.owner] = append(r.byOwner[w.owner], k)
	}
	p.report(r.log)
	return len(p.ops), nil
}

// multiparter is the one request dumpFlows needs.
type multiparter interface {
	Multipart(ctx context.Context, m openflow.MultipartRequest) ([]byte, error)
}

// dumpFlowBody reads every flow of a switch (FLOW multipart, all tables)
// as the reply body: every entry was checked as its part arrived, and
// openflow.ReadFlowStats walks it without building a value per flow.
func dumpFlowBody(ctx context.Context, c multiparter) ([]byte, error) {
	body, err := c.Multipart(ctx, openflow.MultipartRequest{MPType: openflow.MultipartFlow,
		Body: openflow.FlowStatsRequestBody(openflow.TableAll, 0, 0)})
	if err != nil {
		return nil, fmt.Errorf("dumping flows: %w", err)
	}
	return body, nil
}

// dumpFlows reads every flow of a switch, one value per flow. For a
// switch's whole table prefer dumpFlowBody and planBody.
func dumpFlows(ctx context.Context, c multiparter) ([]openflow.FlowStats, error) {
	body, err := dumpFlowBody(ctx, c)
	if err != nil {
		return nil, err
	}
	stats, err := openflow.ParseFlowStats(body)
	if err != nil {
		return nil, fmt.Errorf("dumping flows: %w", err)
	}
	return stats, nil
}

// plan is the outcome of a diff: the flow-mods, and what the diff saw.
type plan struct {
	ops []op
	// seen is the switch's version of each Loom-marked flow at a desired
	// or held key: the reconciler's view when the ops are not applied.
	seen  map[flow.Key]claim
	flows int // flows on the switch
	// stale are the flows nobody declares that the policy removes:
	// Loom-marked ones, and foreign ones under RemoveForeign.
	staleLoom, staleForeign int
	replace                 bool // ops are one bulk delete and the adds of every desired flow
	deferred                int  // stale flows left for later passes (no bundles)
}

// report logs a pass that replaced the table or left stale flows for later.
func (p plan) report(log *logrus.Entry) {
	what := fmt.Sprintf("%s stale Loom flows", thousands(p.staleLoom))
	if p.staleForeign > 0 {
		what += fmt.Sprintf(" and %s foreign flows", thousands(p.staleForeign))
	}
	switch {
	case p.replace:
		log.WithFields(logrus.Fields{"stale_loom": p.staleLoom, "stale_foreign": p.staleForeign, "flow_mods": len(p.ops)}).
			Warnf("switch holds %s; replaced the table in one bundle (1 delete, %s adds)", what, thousands(len(p.ops)-1))
	case p.deferred > 0:
		log.WithFields(logrus.Fields{"stale_loom": p.staleLoom, "stale_foreign": p.staleForeign, "deferred": p.deferred}).
			Warnf("switch holds %s and takes no bundles; deleted %s this pass, the next verify passes delete the rest",
				what, thousands(p.staleLoom+p.staleForeign-p.deferred))
	}
}

// diffBody computes the flow-mods that turn a dumped table (a FLOW
// multipart body, walked in place) into want.
func (r *reconciler) diffBody(body []byte, want map[flow.Key]claim, hold map[flow.Key]bool) ([]op, error) {
	p, err := r.planBody(body, want, hold)
	return p.ops, err
}

// planBody walks the dumped body flow by flow, keeping only what the diff
// needs: memory grows with the desired flows and the ops, not with the
// switch's table.
func (r *reconciler) planBody(body []byte, want map[flow.Key]claim, hold map[flow.Key]bool) (plan, error) {
	d := r.newDiffer(want, hold)
	rd := openflow.ReadFlowStats(body)
	var oxms []openflow.OXM // reused: each flow's fields alias the body
	for rd.Next() {
		e := rd.Entry()
		oxms = e.AppendMatch(oxms[:0])
		d.see(dumpedFlow{table: e.TableID, priority: e.Priority, cookie: flow.Cookie(e.Cookie), idle: e.IdleTimeout,
			hard: e.HardTimeout, flags: e.Flags, match: oxms, ins: e.RawInstructions})
	}
	if err := rd.Err(); err != nil {
		return plan{}, err
	}
	return d.finish(), nil
}

// dumpedFlow is one flow of a dump, as the diff reads it. Its slices alias
// the dump and are not kept past see unless copied.
type dumpedFlow struct {
	table             uint8
	priority          uint16
	cookie            flow.Cookie
	idle, hard, flags uint16
	match             []openflow.OXM
	ins               []byte
}

// differ builds a plan one dumped flow at a time.
type differ struct {
	r       *reconciler
	want    map[flow.Key]claim
	hold    map[flow.Key]bool
	limit   int // deletes kept; past it the table is replaced (bundles) or the rest wait (none)
	present map[flow.Key]bool
	seen    map[flow.Key]claim
	keep    []op // held flows the bulk delete would take: put back as the switch has them
	dels    []op
	mods    []op
	p       plan
}

func (r *reconciler) newDiffer(want map[flow.Key]claim, hold map[flow.Key]bool) *differ {
	limit := staleDeletesPerPass
	if r.bundles {
		limit = max(staleReplaceMin, len(want))
	}
	return &differ{r: r, want: want, hold: hold, limit: limit, present: make(map[flow.Key]bool, len(want)),
		seen: make(map[flow.Key]claim)}
}

func (d *differ) see(f dumpedFlow) {
	d.p.flows++
	m, err := flow.MatchFromOXMs(f.match)
	k := flow.Key{Table: f.table, Priority: f.priority, Match: m}
	if err == nil && (d.hold[k] || d.wantsKey(k)) && f.cookie.IsLoom() {
		// Behaviour unknown: an empty flow never equals a desired one, so
		// a pass after a failed apply rewrites it.
		d.seen[k] = claim{flow: flow.Flow{Table: f.table, Priority: f.priority, Match: m, Cookie: f.cookie}}
	}
	if err == nil && d.hold[k] {
		// The desired flow here was refused: keep what the switch has. A
		// bulk delete would take it too, so have it ready to put back.
		if f.cookie.IsLoom() || d.r.foreign == RemoveForeign {
			d.keep = append(d.keep, d.restore(f, m))
		}
		return
	}
	if w, wanted := d.want[k]; err == nil && wanted {
		d.present[k] = true
		switch {
		case f.cookie != w.flow.Cookie:
			// Another owner's (or a foreign) flow in a desired slot:
			// an add replaces it atomically, cookie and all.
			d.mods = append(d.mods, op{cmd: openflow.FlowAdd, owner: w.owner, flow: w.flow})
		case string(f.ins) != string(w.flow.InstructionBytes()):
			d.mods = append(d.mods, op{cmd: openflow.FlowModifyStrict, owner: w.owner, flow: w.flow})
		}
		return
	}
	// Not desired: Loom's marker means stale or rogue; anything else is
	// foreign and goes only when the policy says so.
	switch {
	case f.cookie.IsLoom():
		d.p.staleLoom++
	case d.r.foreign == RemoveForeign:
		d.p.staleForeign++
	default:
		return
	}
	if len(d.dels) >= d.limit {
		return // counted only: the table is replaced, or the rest wait
	}
	del := op{cmd: openflow.FlowDeleteStrict, flow: flow.Flow{Table: f.table, Priority: f.priority, Match: m, Cookie: f.cookie}}
	if err != nil {
		del.raw = append([]openflow.OXM{}, f.match...) // a match Loom cannot model: delete it as reported
	}
	d.dels = append(d.dels, del)
}

func (d *differ) wantsKey(k flow.Key) bool { _, ok := d.want[k]; return ok }

// restore is an add that puts f back as the switch reported it.
func (d *differ) restore(f dumpedFlow, m flow.Match) op {
	fm := openflow.NewFlowMod(openflow.FlowAdd)
	fm.TableID, fm.Priority, fm.Cookie = f.table, f.priority, uint64(f.cookie)
	fm.IdleTimeout, fm.HardTimeout, fm.Flags = f.idle, f.hard, f.flags
	fm.Match = append([]openflow.OXM{}, f.match...)
	// The reader checked these bytes; they parse.
	fm.Instructions, _ = openflow.ParseInstructions(f.ins)
	return op{cmd: openflow.FlowAdd, flow: flow.Flow{Table: f.table, Priority: f.priority, Match: m, Cookie: f.cookie}, wire: &fm}
}

// finish orders the ops: deletes first, so a flow moving between owners or
// keys never briefly exists twice; order within each group does not matter
// to the switch, and sorting 100k ops would cost more than the diff.
func (d *differ) finish() plan {
	p := d.p
	p.seen = d.seen
	stale := p.staleLoom + p.staleForeign
	if stale > d.limit && d.r.bundles {
		// Too many to delete one by one: one delete of every flow the
		// policy removes (Loom's marker, or everything under
		// RemoveForeign), then every desired flow, in one atomic bundle.
		p.replace = true
		del := openflow.NewFlowMod(openflow.FlowDelete)
		del.TableID = openflow.TableAll
		bulk := flow.Flow{Table: openflow.TableAll}
		if d.r.foreign != RemoveForeign {
			del.Cookie, del.CookieMask = flow.Marker, flow.MarkerMask
			bulk.Cookie = flow.Cookie(flow.Marker)
		}
		p.ops = make([]op, 0, 1+len(d.keep)+len(d.want))
		p.ops = append(p.ops, op{cmd: openflow.FlowDelete, flow: bulk, wire: &del})
		p.ops = append(p.ops, d.keep...)
		for _, w := range d.want {
			p.ops = append(p.ops, op{cmd: openflow.FlowAdd, owner: w.owner, flow: w.flow})
		}
		return p
	}
	if stale > d.limit {
		p.deferred = stale - len(d.dels)
	}
	p.ops = append(append(d.dels, d.mods...), d.addsMissing()...)
	return p
}

func (d *differ) addsMissing() []op {
	var adds []op
	for k, w := range d.want {
		if !d.present[k] {
			adds = append(adds, op{cmd: openflow.FlowAdd, owner: w.owner, flow: w.flow})
		}
	}
	return adds
}

// thousands renders n with comma separators: 2,380,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}

// refused records that the switch rejected o's flow: it is held back
// until its owner declares something else for that key.
func (r *reconciler) refused(o op) {
	// Deletes, and held flows being put back, are not declarations.
	if o.cmd != openflow.FlowDeleteStrict && o.cmd != openflow.FlowDelete && o.wire == nil {
		r.held[o.flow.Key()] = o.flow.String()
	}
}

// holdRefused takes held flows out of want and returns their keys. A hold
// whose owner has since declared something else is dropped.
func (r *reconciler) holdRefused(want map[flow.Key]claim) map[flow.Key]bool {
	hold := make(map[flow.Key]bool)
	for k, text := range r.held {
		if w, ok := want[k]; ok && w.flow.String() == text {
			delete(want, k)
			hold[k] = true
			continue
		}
		delete(r.held, k)
	}
	return hold
}

// holds is holdRefused for a reader: which desired flows are held back,
// changing nothing.
func (r *reconciler) holds(want map[flow.Key]claim) map[flow.Key]bool {
	hold := make(map[flow.Key]bool)
	for k, text := range r.held {
		if w, ok := want[k]; ok && w.flow.String() == text {
			delete(want, k)
			hold[k] = true
		}
	}
	return hold
}

// believe resets the installed view to the switch's flows as a dump saw
// them (plan.seen), without owners.
func (r *reconciler) believe(seen map[flow.Key]claim) {
	r.installed = make(map[flow.Key]claim, len(seen))
	r.byOwner = make(map[owner][]flow.Key)
	for k, c := range seen {
		r.installed[k] = c
	}
}

// errRejected means the switch refused a bundle: nothing changed, and the
// session goes on (the refused flow is named by the switch's error).
var errRejected = errors.New("switch rejected the change")

// errNeedFull asks the caller for a full reconcile.
var errNeedFull = errors.New("incremental change touches a contested flow")

// incremental sends what it takes for each changed owner to have exactly
// its declared flows, against the installed view.
func (r *reconciler) incremental(ctx context.Context, changes map[owner][]flow.Flow) (int, error) {
	if len(changes) == 0 {
		return 0, nil
	}
	owners := make([]owner, 0, len(changes))
	for o := range changes {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].less(owners[j]) })
	var ops []op
	for _, o := range owners {
		more, err := r.diffOwner(o, changes[o])
		if err != nil {
			return 0, err
		}
		ops = append(ops, more...)
	}
	if err := r.apply(ctx, ops, len(ops) >= bundleMin); err != nil {
		return 0, err
	}
	for _, o := range owners {
		r.record(o, changes[o])
	}
	return len(ops), nil
}

func (r *reconciler) diffOwner(o owner, flows []flow.Flow) ([]op, error) {
	var ops []op
	want := make(map[flow.Key]bool, len(flows))
	for _, f := range flows {
		want[f.Key()] = true
	}
	for _, k := range r.byOwner[o] {
		if cur, ok := r.installed[k]; ok && !want[k] {
			if cur.owner != o {
				return nil, errNeedFull
			}
			ops = append(ops, op{cmd: openflow.FlowDeleteStrict, owner: o, flow: cur.flow})
		}
	}
	for _, f := range flows {
		cur, ok := r.installed[f.Key()]
		switch {
		case !ok:
			ops = append(ops, op{cmd: openflow.FlowAdd, owner: o, flow: f})
		case cur.owner != o:
			return nil, errNeedFull
		case cur.flow.Cookie != f.Cookie:
			ops = append(ops, op{cmd: openflow.FlowAdd, owner: o, flow: f})
		case !cur.flow.SameBehaviour(f):
			ops = append(ops, op{cmd: openflow.FlowModifyStrict, owner: o, flow: f})
		}
	}
	return ops, nil
}

// record updates the installed view after o's flows went out.
func (r *reconciler) record(o owner, flows []flow.Flow) {
	for _, k := range r.byOwner[o] {
		if cur, ok := r.installed[k]; ok && cur.owner == o {
			delete(r.installed, k)
		}
	}
	keys := make([]flow.Key, 0, len(flows))
	for _, f := range flows {
		r.installed[f.Key()] = claim{owner: o, flow: f}
		keys = append(keys, f.Key())
	}
	if len(keys) == 0 {
		delete(r.byOwner, o)
	} else {
		r.byOwner[o] = keys
	}
}

// apply sends ops: in one atomic bundle when asked and supported, else as
// ordered flow-mods; a full pass ends with a barrier so its result is known.
func (r *reconciler) apply(ctx context.Context, ops []op, wait bool) error {
	if len(ops) == 0 {
		return nil
	}
	r.stats.flowMods.Add(uint64(len(ops)))
	r.awaitProbe()
	if wait && r.bundles {
		return r.applyBundle(ctx, ops)
	}
	for _, o := range ops {
		if err := r.send(o.flowMod(), o); err != nil {
			return err
		}
	}
	if !wait {
		return nil
	}
	_, err := r.request(ctx, openflow.BarrierRequest)
	return err
}

func (r *reconciler) send(m openflow.Outgoing, o op) error {
	xid, err := r.conn.Send(m)
	if err == nil {
		r.sent.put(xid, o)
	}
	return err
}

// applyBundle sends ops in one atomic, ordered bundle. OVS refuses some
// messages as they are added (a bad instruction, say) and would commit the
// rest; so a barrier follows the adds, and if any add was refused the
// bundle is discarded instead of committed: all or nothing. The open, the
// adds and the barrier go in one round trip: if the open is refused, so
// are the adds (no such bundle), and nothing is applied.
func (r *reconciler) applyBundle(ctx context.Context, ops []op) error {
	r.bundleID++
	id := r.bundleID
	flags := openflow.BundleAtomic | openflow.BundleOrdered
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	opened := r.conn.Begin(rctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleOpenRequest, Flags: flags})
	w := r.conn.Watch()
	defer w.Close()
	for _, o := range ops {
		xid, err := w.Send(openflow.BundleAdd{BundleID: id, Flags: flags, Msg: o.flowMod()})
		if err != nil {
			_, _ = opened() // collected, not left pending; the send error is the news
			return err
		}
		r.sent.put(xid, o)
	}
	barrier := r.conn.Begin(rctx, openflow.BarrierRequest)
	_, openErr := opened()
	_, barrierErr := barrier()
	if openErr != nil {
		return fmt.Errorf("opening bundle %d: %w", id, openErr)
	}
	if barrierErr != nil {
		return barrierErr
	}
	if errs := w.Errors(); len(errs) > 0 {
		_, _ = r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleDiscardRequest, Flags: flags}) // best effort: the refusal below is what the caller needs
		return r.rejected(id, len(ops), errs, errors.New("messages refused on arrival; bundle discarded"))
	}
	_, err := r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleCommitRequest, Flags: flags})
	if err != nil {
		return r.rejected(id, len(ops), w.Errors(), err)
	}
	return nil
}

// rejected logs each refused flow with its owner, holds it back, and
// returns the error that says the table is unchanged.
func (r *reconciler) rejected(id uint32, n int, errs []*openflow.ErrorMsg, cause error) error {
	r.stats.bundlesRejected.Add(1)
	for _, e := range errs {
		r.stats.switchErrors.Add(1)
		log := r.log.WithFields(logrus.Fields{"xid": e.Xid, "error": openflow.ErrorName(e.ErrType, e.Code)})
		rec := SwitchError{Time: time.Now(), Error: openflow.ErrorName(e.ErrType, e.Code)}
		if o, ok := r.sent.get(e.Xid); ok {
			log = log.WithFields(logrus.Fields{"app": o.owner.app, "key": o.owner.key, "flow": o.flow.String(), "command": commandName(o.cmd)})
			r.refused(o)
			rec.App, rec.Key, rec.Flow = o.owner.app, o.owner.key, o.flow.String()
		}
		if r.onError != nil {
			r.onError(rec)
		}
		log.Warn("switch rejected a flow; it is held back until its owner declares another")
	}
	return fmt.Errorf("%w: bundle %d of %d flow-mods; the switch's table is unchanged: %v", errRejected, id, n, cause)
}

// xidRing remembers the last n flow-mods by xid, to explain a later error.
type xidRing struct {
	xids   []uint32 // oldest first, from head
	head   int
	ops    map[uint32]op
	size   int
	weight int // actions held, across ops
	// fresh says something was put since the last age.
	fresh bool
}

// xidWeightKept bounds the actions the ring holds: a switch whose flood
// flows carry thousands of outputs must not keep 8,192 old copies of them
// alive (they were 125 MB for one 3,000-port switch).
const xidWeightKept = 1 << 16

// newXidRing keeps up to n entries. Its memory grows with use rather than
// being sized for n up front: an idle switch must cost little.
func newXidRing(n int) *xidRing {
	return &xidRing{ops: make(map[uint32]op), size: n}
}

func opWeight(o op) int { return 1 + len(o.flow.Actions) }

func (x *xidRing) put(xid uint32, o op) {
	w := opWeight(o)
	for len(x.ops) > 0 && (len(x.ops) >= x.size || x.weight+w > xidWeightKept) {
		old := x.xids[x.head]
		x.head++
		if oo, ok := x.ops[old]; ok {
			x.weight -= opWeight(oo)
			delete(x.ops, old)
		}
	}
	if x.head > len(x.xids)/2 { // compact the consumed front
		x.xids = append(x.xids[:0], x.xids[x.head:]...)
		x.head = 0
	}
	if old, ok := x.ops[xid]; ok { // an xid reused after wrapping
		x.weight -= opWeight(old)
	}
	x.xids = append(x.xids, xid)
	x.ops[xid] = o
	x.weight += w
	x.fresh = true
}

// age forgets everything when nothing was sent since the last call: the
// session calls it once per verify interval, and a switch answers a
// flow-mod with its error in milliseconds, not in seconds. An idle switch
// then holds no ring at all.
func (x *xidRing) age() {
	if !x.fresh && len(x.ops) > 0 {
		x.xids, x.head, x.ops, x.weight = nil, 0, make(map[uint32]op), 0
	}
	x.fresh = false
}

func (x *xidRing) get(xid uint32) (op, bool) {
	o, ok := x.ops[xid]
	return o, ok
}
