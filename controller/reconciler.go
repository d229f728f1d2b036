package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
)

// ofConn is the part of an OpenFlow connection the reconciler uses.
type ofConn interface {
	Send(m openflow.Outgoing) (uint32, error)
	Request(ctx context.Context, m openflow.Outgoing) (openflow.Message, error)
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

// reconciler keeps one switch's flow table equal to the desired state.
//
// A full reconcile (on connect, every verify period, after a conflict)
// reads the switch's table, diffs it against the desired state and sends
// only the difference: add, modify-strict, delete-strict, in one ordered
// atomic bundle followed by a barrier. Full recompute is always correct;
// the incremental path (after an app handler) is an optimisation that
// diffs only the owners that changed against what the reconciler believes
// the switch holds, and falls back to a full reconcile when unsure.
type reconciler struct {
	conn    ofConn
	dpid    uint64
	desired *desiredStore
	log     *logrus.Entry
	stats   *Stats
	timeout time.Duration
	foreign ForeignPolicy

	bundles  bool   // the switch accepts ONF bundles
	bundleID uint32 // last bundle id used

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
}

func (o op) flowMod() openflow.FlowMod {
	fm := o.flow.FlowMod(o.cmd)
	if o.raw != nil {
		fm.Match = o.raw
	}
	return fm
}

// probeBundles finds out whether the switch takes bundles: open one, then
// discard it.
func (r *reconciler) probeBundles(ctx context.Context) {
	r.bundleID++
	id := r.bundleID
	if _, err := r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleOpenRequest, Flags: openflow.BundleAtomic | openflow.BundleOrdered}); err != nil {
		r.log.WithError(err).Info("switch does not take bundles; changes go as ordered flow-mods and a barrier")
		return
	}
	r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleDiscardRequest})
	r.bundles = true
}

func (r *reconciler) request(ctx context.Context, m openflow.Outgoing) (openflow.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.conn.Request(ctx, m)
}

// full reads the switch's table and makes it equal to the desired state.
// It returns the number of flow-mods sent.
func (r *reconciler) full(ctx context.Context) (int, error) {
	dumpCtx, cancel := context.WithTimeout(ctx, r.timeout)
	stats, err := dumpFlows(dumpCtx, r.conn)
	cancel()
	if err != nil {
		return 0, err
	}
	dumped := time.Now()
	want := r.desired.snapshot(r.dpid, r.log, r.stats)
	hold := r.holdRefused(want)
	ops := r.diff(stats, want, hold)
	diffed := time.Now()
	defer func() {
		if len(ops) > 0 {
			r.log.WithFields(logrus.Fields{"flows_on_switch": len(stats), "desired": len(want), "flow_mods": len(ops),
				"diff": diffed.Sub(dumped).Round(time.Millisecond), "apply": time.Since(diffed).Round(time.Millisecond)}).Debug("full reconcile")
		}
	}()
	if err := r.apply(ctx, ops, true); err != nil {
		// The switch kept its table: believe the dump, not the diff.
		r.believe(stats)
		return 0, err
	}
	r.believe(stats) // what was held keeps the switch's version
	for k := range r.installed {
		if !hold[k] {
			delete(r.installed, k)
		}
	}
	for k, w := range want {
		r.installed[k] = w
		r.byOwner[w.owner] = append(r.byOwner[w.owner], k)
	}
	return len(ops), nil
}

// multiparter is the one request dumpFlows needs.
type multiparter interface {
	Multipart(ctx context.Context, m openflow.MultipartRequest) ([]byte, error)
}

// dumpFlows reads every flow of a switch (FLOW multipart, all tables).
func dumpFlows(ctx context.Context, c multiparter) ([]openflow.FlowStats, error) {
	body, err := c.Multipart(ctx, openflow.MultipartRequest{MPType: openflow.MultipartFlow,
		Body: openflow.FlowStatsRequestBody(openflow.TableAll, 0, 0)})
	if err != nil {
		return nil, fmt.Errorf("dumping flows: %w", err)
	}
	stats, err := openflow.ParseFlowStats(body)
	if err != nil {
		return nil, fmt.Errorf("dumping flows: %w", err)
	}
	return stats, nil
}

// diff computes the flow-mods that turn the switch's table into want.
// Deletes come first, then modifies and adds, each in a fixed order.
func (r *reconciler) diff(have []openflow.FlowStats, want map[flow.Key]claim, hold map[flow.Key]bool) []op {
	var dels, mods []op
	present := make(map[flow.Key]bool, len(have))
	for _, fs := range have {
		cookie := flow.Cookie(fs.Cookie)
		m, err := flow.MatchFromOXMs(fs.Match)
		k := flow.Key{Table: fs.TableID, Priority: fs.Priority, Match: m}
		w, wanted := want[k]
		if err == nil && hold[k] {
			continue // the desired flow here was refused: keep what the switch has
		}
		if err == nil && wanted {
			present[k] = true
			switch {
			case cookie != w.flow.Cookie:
				// Another owner's (or a foreign) flow in a desired slot:
				// an add replaces it atomically, cookie and all.
				mods = append(mods, op{cmd: openflow.FlowAdd, owner: w.owner, flow: w.flow})
			case string(fs.RawInstructions) != string(w.flow.InstructionBytes()):
				mods = append(mods, op{cmd: openflow.FlowModifyStrict, owner: w.owner, flow: w.flow})
			}
			continue
		}
		// Not desired: Loom's marker means stale or rogue; anything else is
		// foreign and goes only when the policy says so.
		if cookie.IsLoom() || r.foreign == RemoveForeign {
			d := op{cmd: openflow.FlowDeleteStrict, flow: flow.Flow{Table: fs.TableID, Priority: fs.Priority, Match: m, Cookie: cookie}}
			if err != nil {
				d.raw = nonNil(fs.Match) // a match Loom cannot model: delete it as reported
			}
			dels = append(dels, d)
		}
	}
	var adds []op
	for k, w := range want {
		if !present[k] {
			adds = append(adds, op{cmd: openflow.FlowAdd, owner: w.owner, flow: w.flow})
		}
	}
	// Deletes first, so a flow moving between owners or keys never
	// briefly exists twice; order within each group does not matter to
	// the switch, and sorting 100k ops would cost more than the diff.
	return append(append(dels, mods...), adds...)
}

func nonNil(m []openflow.OXM) []openflow.OXM {
	if m == nil {
		return []openflow.OXM{}
	}
	return m
}

// refused records that the switch rejected o's flow: it is held back
// until its owner declares something else for that key.
func (r *reconciler) refused(o op) {
	if o.cmd != openflow.FlowDeleteStrict {
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

// believe resets the installed view from a dump of the switch.
func (r *reconciler) believe(have []openflow.FlowStats) {
	r.installed = make(map[flow.Key]claim)
	r.byOwner = make(map[owner][]flow.Key)
	for _, fs := range have {
		m, err := flow.MatchFromOXMs(fs.Match)
		if err != nil || !flow.Cookie(fs.Cookie).IsLoom() {
			continue
		}
		k := flow.Key{Table: fs.TableID, Priority: fs.Priority, Match: m}
		// Behaviour unknown: an empty flow never equals a desired one, so
		// the next pass rewrites it.
		r.installed[k] = claim{flow: flow.Flow{Table: fs.TableID, Priority: fs.Priority, Match: m, Cookie: flow.Cookie(fs.Cookie)}}
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
// bundle is discarded instead of committed: all or nothing.
func (r *reconciler) applyBundle(ctx context.Context, ops []op) error {
	r.bundleID++
	id := r.bundleID
	flags := openflow.BundleAtomic | openflow.BundleOrdered
	if _, err := r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleOpenRequest, Flags: flags}); err != nil {
		return fmt.Errorf("opening bundle %d: %w", id, err)
	}
	w := r.conn.Watch()
	defer w.Close()
	for _, o := range ops {
		xid, err := w.Send(openflow.BundleAdd{BundleID: id, Flags: flags, Msg: o.flowMod()})
		if err != nil {
			return err
		}
		r.sent.put(xid, o)
	}
	if _, err := r.request(ctx, openflow.BarrierRequest); err != nil {
		return err
	}
	if errs := w.Errors(); len(errs) > 0 {
		r.request(ctx, openflow.BundleControl{BundleID: id, Type: openflow.BundleDiscardRequest, Flags: flags})
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
	xids []uint32
	ops  map[uint32]op
	next int
	size int
}

// newXidRing keeps up to n entries. Its memory grows with use rather than
// being sized for n up front: an idle switch must cost little.
func newXidRing(n int) *xidRing {
	return &xidRing{ops: make(map[uint32]op), size: n}
}

func (x *xidRing) put(xid uint32, o op) {
	if len(x.xids) < x.size {
		x.xids = append(x.xids, xid)
		x.ops[xid] = o
		return
	}
	delete(x.ops, x.xids[x.next])
	x.xids[x.next] = xid
	x.ops[xid] = o
	x.next = (x.next + 1) % x.size
}

func (x *xidRing) get(xid uint32) (op, bool) {
	o, ok := x.ops[xid]
	return o, ok
}
