package controller

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/ofsim"
	"github.com/loomsdn/loom/openflow"
)

// simConn is an ofConn backed directly by an in-memory switch: every
// message is applied at once, so tests read the switch's table right after.
type simConn struct {
	sw        *ofsim.Switch
	xid       uint32
	noBundles bool
	sent      int // flow-mods and bundle adds received
}

func (c *simConn) Send(m openflow.Outgoing) (uint32, error) {
	c.xid++
	switch v := m.(type) {
	case openflow.FlowMod:
		c.sent++
		return c.xid, c.sw.Apply(v)
	case openflow.BundleAdd:
		c.sent++
		c.sw.BundleAdd(v.BundleID, v.Msg.(openflow.FlowMod))
	}
	return c.xid, nil
}

func (c *simConn) Request(_ context.Context, m openflow.Outgoing) (openflow.Message, error) {
	c.xid++
	if b, ok := m.(openflow.BundleControl); ok {
		if c.noBundles {
			return nil, &openflow.ErrorMsg{ErrType: openflow.ErrBadRequest, Code: 3}
		}
		if b.Type == openflow.BundleCommitRequest {
			if err := c.sw.BundleCommit(b.BundleID); err != nil {
				return nil, &openflow.ErrorMsg{ErrType: 0xffff, Code: 2313}
			}
		}
	}
	return &openflow.BarrierReply{}, nil
}

// Watch implements ofConn: the in-memory switch refuses in BundleCommit,
// so nothing is refused on arrival.
func (c *simConn) Watch() errorWatch { return simWatch{c} }

type simWatch struct{ c *simConn }

func (w simWatch) Send(m openflow.Outgoing) (uint32, error) { return w.c.Send(m) }
func (w simWatch) Errors() []*openflow.ErrorMsg             { return nil }
func (w simWatch) Close()                                   {}

func (c *simConn) Multipart(context.Context, openflow.MultipartRequest) ([]byte, error) {
	return c.sw.FlowStatsBody(), nil
}

type recRig struct {
	conn *simConn
	d    *desiredStore
	rec  *reconciler
	st   *Stats
	logs *test.Hook
}

func newRecRig(t *testing.T, foreign ForeignPolicy) *recRig {
	log, hook := test.NewNullLogger()
	r := &recRig{conn: &simConn{sw: ofsim.New()}, d: newDesiredStore(), st: &Stats{}, logs: hook}
	r.rec = newReconciler(r.conn, 1, r.d, logrus.NewEntry(log), r.st, 0, foreign)
	r.rec.startProbe(context.Background())
	r.rec.awaitProbe()
	return r
}

func (r *recRig) full(t *testing.T) int {
	t.Helper()
	n, err := r.rec.full(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func macFlow(table uint8, last byte, port uint32) flow.Flow {
	return flow.Flow{Table: table, Priority: 100, Match: flow.Match{}.EthDst(flow.MAC{2, 0, 0, 0, 0, last}), Actions: []flow.Action{flow.Output(port)}}
}

func (r *recRig) tableText() []string {
	var out []string
	for _, e := range r.conn.sw.Entries() {
		m, _ := flow.MatchFromOXMs(e.Match)
		f := flow.Flow{Table: e.Table, Priority: e.Priority, Match: m}
		for _, in := range e.Instructions {
			for _, a := range in.Actions {
				f.Actions = append(f.Actions, flow.Output(a.Port))
			}
		}
		out = append(out, f.String())
	}
	return out
}

func TestReconcileTwiceSendsNothingTheSecondTime(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	o := owner{"l2", "mac/a"}
	r.d.set(1, o, 1, []flow.Flow{macFlow(1, 1, 1), macFlow(1, 2, 2)})
	if n := r.full(t); n != 2 {
		t.Fatalf("first pass sent %d flow-mods, want 2", n)
	}
	before := r.conn.sent
	if n := r.full(t); n != 0 || r.conn.sent != before {
		t.Fatalf("second pass sent %d flow-mods", r.conn.sent-before)
	}
	if c := r.conn.sw.Counts(); c.Bundles != 1 {
		t.Fatalf("%d bundles committed, want the first pass's one", c.Bundles)
	}
}

func TestRestartWithSameDesiredStateRewritesNothing(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	r.d.set(1, owner{"l2", "k"}, 1, []flow.Flow{macFlow(1, 1, 1)})
	r.full(t)
	// A new controller process: fresh desired store with the same content,
	// fresh reconciler, same switch.
	d2 := newDesiredStore()
	d2.set(1, owner{"l2", "k"}, 1, []flow.Flow{macFlow(1, 1, 1)})
	rec2 := newReconciler(r.conn, 1, d2, logrus.NewEntry(logrus.New()), r.st, 0, KeepForeign)
	before := r.conn.sw.Counts()
	if n, err := rec2.full(context.Background()); err != nil || n != 0 {
		t.Fatalf("restart sent %d flow-mods (%v), want none", n, err)
	}
	if r.conn.sw.Counts() != before {
		t.Fatal("the switch's table was touched")
	}
}

func TestDriftIsRepaired(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	o := owner{"l2", "k"}
	r.d.set(1, o, 1, []flow.Flow{macFlow(1, 1, 1), macFlow(1, 2, 2)})
	r.full(t)
	want := r.tableText()

	// Out of band: one flow deleted, one modified, a rogue Loom-marked
	// flow added, and a foreign flow added.
	r.conn.sw.Remove(func(e ofsim.Entry) bool {
		m, _ := flow.MatchFromOXMs(e.Match)
		return m == flow.Match{}.EthDst(flow.MAC{2, 0, 0, 0, 0, 1})
	})
	entries := r.conn.sw.Entries()
	mod := entries[0]
	mod.Instructions = []openflow.Instruction{openflow.ApplyActions(openflow.Output(9))}
	r.conn.sw.Insert(mod)
	rogue := macFlow(1, 7, 7)
	rogue.Cookie = flow.MakeCookie(1, 0, 1234)
	r.conn.sw.Insert(ofsim.Entry{Table: 1, Priority: 100, Cookie: uint64(rogue.Cookie), Match: rogue.Match.OXMs(), Instructions: rogue.Instructions()})
	foreign := macFlow(1, 8, 8)
	r.conn.sw.Insert(ofsim.Entry{Table: 1, Priority: 100, Cookie: 0x1, Match: foreign.Match.OXMs(), Instructions: foreign.Instructions()})

	if n := r.full(t); n != 3 {
		t.Fatalf("repair sent %d flow-mods, want 3 (re-add, modify, delete rogue)", n)
	}
	got := r.tableText()
	if len(got) != len(want)+1 {
		t.Fatalf("after repair:\n%v\nwant Loom's %v plus the foreign flow", got, want)
	}
	for i, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Fatalf("flow %d %q missing after repair: %v", i, w, got)
		}
	}
}

func TestForeignFlowsGoWhenPolicySaysSo(t *testing.T) {
	r := newRecRig(t, RemoveForeign)
	foreign := macFlow(1, 8, 8)
	r.conn.sw.Insert(ofsim.Entry{Table: 1, Priority: 100, Cookie: 0x1, Match: foreign.Match.OXMs(), Instructions: foreign.Instructions()})
	r.conn.sw.Insert(ofsim.Entry{Table: 5, Priority: 1, Cookie: 0x2, Match: []openflow.OXM{{Class: openflow.OXMClassBasic, Field: openflow.OXMIPProto, Value: []byte{6}}}})
	if n := r.full(t); n != 2 || len(r.conn.sw.Entries()) != 0 {
		t.Fatalf("sent %d, table %v; want both foreign flows deleted", n, r.tableText())
	}
}

func TestConflictsResolveDeterministically(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	f1, f2 := macFlow(1, 1, 1), macFlow(1, 1, 2) // same key, different ports
	r.d.set(1, owner{"b-app", "x"}, 2, []flow.Flow{f2})
	r.d.set(1, owner{"a-app", "x"}, 1, []flow.Flow{f1})
	r.full(t)
	r.full(t)
	if got := r.tableText(); len(got) != 1 || got[0] != f1.String() {
		t.Fatalf("table %v, want a-app's flow %q", got, f1)
	}
	if r.st.conflicts.Load() == 0 {
		t.Fatal("conflict not counted")
	}
	n := 0
	for _, e := range r.logs.AllEntries() {
		if e.Message == "two owners declare the same flow; the first by app/key wins" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("conflict logged %d times over two passes, want once", n)
	}
	// The winner withdraws: the loser's flow takes the slot.
	r.d.remove(1, owner{"a-app", "x"})
	r.full(t)
	if got := r.tableText(); len(got) != 1 || got[0] != f2.String() {
		t.Fatalf("table %v, want b-app's flow once a-app withdrew", got)
	}
}

func TestRejectedBundleLeavesTableUnchanged(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	r.d.set(1, owner{"l2", "good"}, 1, []flow.Flow{macFlow(1, 1, 1)})
	r.full(t)
	before := r.tableText()
	r.conn.sw.Reject = func(fm openflow.FlowMod) error {
		if fm.Priority == 100 && fm.Command == openflow.FlowAdd && len(fm.Instructions) > 0 && fm.Instructions[0].Actions[0].Port == 666 {
			return errors.New("bad port")
		}
		return nil
	}
	r.d.set(1, owner{"l2", "more"}, 1, []flow.Flow{macFlow(1, 2, 2)})
	r.d.set(1, owner{"l2", "bad"}, 1, []flow.Flow{macFlow(1, 3, 666)})
	_, err := r.rec.full(context.Background())
	if err == nil || r.st.bundlesRejected.Load() != 1 {
		t.Fatalf("err %v, rejected %d; want the bundle refused", err, r.st.bundlesRejected.Load())
	}
	if got := r.tableText(); len(got) != len(before) || got[0] != before[0] {
		t.Fatalf("table %v after a rejected bundle, want unchanged %v", got, before)
	}
	// The switch's error names the bad flow (the session maps its xid back
	// to the op): it is held back, and the next pass applies the rest.
	for _, o := range r.rec.sent.ops {
		if len(o.flow.Actions) == 1 && o.flow.Actions[0].Port() == 666 {
			r.rec.refused(o)
		}
	}
	if n := r.full(t); n != 1 {
		t.Fatalf("pass after the refusal sent %d flow-mods, want the one good flow", n)
	}
	if got := r.tableText(); len(got) != 2 {
		t.Fatalf("table %v, want the two good flows", got)
	}
	if n := r.full(t); n != 0 {
		t.Fatalf("held flow offered again: %d flow-mods", n)
	}
	// Its owner declares something else for the key: tried again.
	r.conn.sw.Reject = nil
	r.d.set(1, owner{"l2", "bad"}, 1, []flow.Flow{macFlow(1, 3, 3)})
	if n := r.full(t); n != 1 || len(r.tableText()) != 3 {
		t.Fatalf("re-declared flow: %d flow-mods, table %v", n, r.tableText())
	}
}

func TestNoBundleSwitchGetsOrderedFlowMods(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	r.conn.noBundles = true
	r.rec.bundles = false
	r.rec.startProbe(context.Background())
	r.rec.awaitProbe()
	if r.rec.bundles {
		t.Fatal("bundles assumed on a switch that refused one")
	}
	r.d.set(1, owner{"l2", "k"}, 1, []flow.Flow{macFlow(1, 1, 1), macFlow(1, 2, 2), macFlow(1, 3, 3)})
	if n := r.full(t); n != 3 || len(r.conn.sw.Entries()) != 3 || r.conn.sw.Counts().Bundles != 0 {
		t.Fatalf("sent %d, table %v, bundles %d", n, r.tableText(), r.conn.sw.Counts().Bundles)
	}
}

func TestIncrementalSendsOnlyTheChange(t *testing.T) {
	r := newRecRig(t, KeepForeign)
	o := owner{"l2", "k"}
	r.d.set(1, o, 1, []flow.Flow{macFlow(1, 1, 1), macFlow(1, 2, 2)})
	r.full(t)
	before := r.conn.sent
	r.d.set(1, o, 1, []flow.Flow{macFlow(1, 1, 1), macFlow(1, 2, 5)}) // one flow changes port
	n, err := r.rec.incremental(context.Background(), r.d.takeDirty(1))
	if err != nil || n != 1 || r.conn.sent-before != 1 {
		t.Fatalf("incremental sent %d (%v), want 1 modify", r.conn.sent-before, err)
	}
	if n := r.full(t); n != 0 {
		t.Fatalf("full pass after the increment found %d differences", n)
	}
}

// insertStale puts n Loom-marked flows nobody declares into the switch, as
// an old generation of Loom (or a bug) would leave them.
func insertStale(sw *ofsim.Switch, n int) {
	ins := []openflow.Instruction{openflow.ApplyActions(openflow.Output(1))}
	for i := 0; i < n; i++ {
		m := flow.Match{}.EthDst(flow.MAC{2, 0xee, 0, byte(i >> 16), byte(i >> 8), byte(i)})
		sw.Insert(ofsim.Entry{Table: 1, Priority: 100, Cookie: uint64(flow.MakeCookie(1, 0, uint32(i))), Match: m.OXMs(), Instructions: ins})
	}
}

// desiredFlows declares n flows for one owner, half of them installed.
func (r *recRig) desiredFlows(t *testing.T, n int) []string {
	t.Helper()
	var flows []flow.Flow
	for i := 0; i < n; i++ {
		flows = append(flows, flow.Flow{Table: 1, Priority: 200, Match: flow.Match{}.EthDst(flow.MAC{2, 0xd, 0, 0, byte(i >> 8), byte(i)}),
			Actions: []flow.Action{flow.Output(uint32(i%4 + 1))}})
	}
	r.d.set(1, owner{"l2", "k"}, 1, flows[:n/2])
	r.full(t)
	r.d.set(1, owner{"l2", "k"}, 1, flows)
	var text []string
	for _, f := range flows {
		text = append(text, f.String())
	}
	return text
}

func (r *recRig) logged(msg string) int {
	n := 0
	for _, e := range r.logs.AllEntries() {
		if e.Message == msg {
			n++
		}
	}
	return n
}

func TestManyStaleFlowsReplaceTheTableInOneBundle(t *testing.T) {
	t.Parallel()
	for _, foreign := range []ForeignPolicy{KeepForeign, RemoveForeign} {
		r := newRecRig(t, foreign)
		want := r.desiredFlows(t, 40)
		insertStale(r.conn.sw, 50_000)
		other := macFlow(1, 8, 8)
		r.conn.sw.Insert(ofsim.Entry{Table: 1, Priority: 100, Cookie: 0x1, Match: other.Match.OXMs(), Instructions: other.Instructions()})
		r.conn.sw.Insert(ofsim.Entry{Table: 7, Priority: 5, Cookie: 0})
		before, sent := r.conn.sw.Counts(), r.conn.sent

		if n := r.full(t); n != 41 || r.conn.sent-sent != 41 {
			t.Fatalf("foreign policy %d: sent %d flow-mods (%d on the wire), want 1 delete + 40 adds", foreign, n, r.conn.sent-sent)
		}
		c := r.conn.sw.Counts()
		if c.Bundles-before.Bundles != 1 || c.Deletes-before.Deletes != 1 || c.Adds-before.Adds != 40 || c.Modifies != before.Modifies {
			t.Fatalf("foreign policy %d: switch saw %+v after %+v, want one bundle of 1 delete and 40 adds", foreign, c, before)
		}
		got := r.tableText()
		wantTable := len(want)
		if foreign == KeepForeign {
			wantTable += 2 // both foreign flows survive the cookie-masked delete
		}
		if len(got) != wantTable {
			t.Fatalf("foreign policy %d: table has %d flows, want %d", foreign, len(got), wantTable)
		}
		if foreign == KeepForeign && !slices.Contains(got, other.String()) {
			t.Fatalf("the foreign flow %q is gone", other)
		}
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Fatalf("foreign policy %d: desired flow %q missing", foreign, w)
			}
		}
		if foreign == RemoveForeign {
			for _, e := range r.conn.sw.Entries() {
				if !flow.Cookie(e.Cookie).IsLoom() {
					t.Fatalf("foreign flow %+v left under RemoveForeign", e)
				}
			}
		}
		line := "switch holds 50,000 stale Loom flows; replaced the table in one bundle (1 delete, 40 adds)"
		if foreign == RemoveForeign {
			line = "switch holds 50,000 stale Loom flows and 2 foreign flows; replaced the table in one bundle (1 delete, 40 adds)"
		}
		if n := r.logged(line); n != 1 {
			t.Fatalf("foreign policy %d: %q logged %d times", foreign, line, n)
		}
		// The next verify finds the table as wanted.
		if n := r.full(t); n != 0 {
			t.Fatalf("foreign policy %d: the pass after the replacement sent %d flow-mods", foreign, n)
		}
	}
}

func TestStaleFlowsAtTheThresholdGoOneByOne(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	r.desiredFlows(t, 10)
	insertStale(r.conn.sw, staleReplaceMin)
	before := r.conn.sw.Counts()
	if n := r.full(t); n != staleReplaceMin+5 {
		t.Fatalf("sent %d flow-mods, want %d delete-strict and 5 adds", n, staleReplaceMin)
	}
	if c := r.conn.sw.Counts(); c.Deletes-before.Deletes != staleReplaceMin || c.Bundles-before.Bundles != 1 {
		t.Fatalf("switch saw %+v after %+v", c, before)
	}
	if len(r.conn.sw.Entries()) != 10 {
		t.Fatalf("table %v", r.tableText())
	}
}

func TestManyDesiredFlowsRaiseTheThreshold(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	r.desiredFlows(t, 2*staleReplaceMin)
	insertStale(r.conn.sw, staleReplaceMin+1) // more than 10,000, fewer than the 20,000 desired
	before := r.conn.sw.Counts()
	if n := r.full(t); n != 2*staleReplaceMin+1 {
		t.Fatalf("sent %d flow-mods, want %d delete-strict and %d adds", n, staleReplaceMin+1, staleReplaceMin)
	}
	if c := r.conn.sw.Counts(); c.Deletes-before.Deletes != staleReplaceMin+1 {
		t.Fatalf("switch saw %+v after %+v, want one delete-strict per stale flow", c, before)
	}
}

func TestHeldFlowSurvivesTheTableReplacement(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	held := macFlow(1, 3, 3)
	r.d.set(1, owner{"l2", "good"}, 1, []flow.Flow{macFlow(1, 1, 1)})
	r.d.set(1, owner{"l2", "held"}, 1, []flow.Flow{held})
	r.full(t)
	// The switch refused a new version of "held": it keeps the old one.
	bad := macFlow(1, 3, 666)
	r.d.set(1, owner{"l2", "held"}, 1, []flow.Flow{bad})
	r.rec.refused(op{cmd: openflow.FlowModifyStrict, flow: r.d.snapshot(1, r.rec.log, r.st)[bad.Key()].flow})
	insertStale(r.conn.sw, 20_000)
	if n := r.full(t); n != 3 {
		t.Fatalf("sent %d flow-mods, want 1 delete, the held flow put back and 1 add", n)
	}
	got := r.tableText()
	if len(got) != 2 || !slices.Contains(got, held.String()) {
		t.Fatalf("table %v, want the good flow and the held flow's old version %q", got, held)
	}
	if n := r.full(t); n != 0 {
		t.Fatalf("the pass after the replacement sent %d flow-mods", n)
	}
	if len(r.rec.held) != 1 {
		t.Fatalf("held flows %v, want the refused one still held", r.rec.held)
	}
}

func TestRejectedReplacementLeavesTableUnchanged(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	r.desiredFlows(t, 4)
	insertStale(r.conn.sw, 20_000)
	r.conn.sw.Reject = func(fm openflow.FlowMod) error {
		if fm.Command == openflow.FlowDelete {
			return errors.New("no")
		}
		return nil
	}
	if _, err := r.rec.full(context.Background()); !errors.Is(err, errRejected) {
		t.Fatalf("err %v, want the bundle rejected", err)
	}
	if n := len(r.conn.sw.Entries()); n != 20_002 {
		t.Fatalf("%d flows after a rejected replacement, want the 20,002 there were", n)
	}
	if r.logged("switch holds 20,000 stale Loom flows; replaced the table in one bundle (1 delete, 4 adds)") != 0 {
		t.Fatal("a rejected replacement was logged as done")
	}
	r.conn.sw.Reject = nil
	if n := r.full(t); n != 5 || len(r.conn.sw.Entries()) != 4 {
		t.Fatalf("retry sent %d flow-mods, table has %d flows", n, len(r.conn.sw.Entries()))
	}
}

func TestNoBundleSwitchDeletesStaleFlowsInCappedPasses(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	r.conn.noBundles = true
	r.rec.bundles = false
	r.d.set(1, owner{"l2", "k"}, 1, []flow.Flow{macFlow(1, 1, 1)})
	insertStale(r.conn.sw, staleDeletesPerPass+7)
	if n := r.full(t); n != staleDeletesPerPass+1 {
		t.Fatalf("first pass sent %d flow-mods, want %d deletes and the add", n, staleDeletesPerPass)
	}
	if n := len(r.conn.sw.Entries()); n != 8 {
		t.Fatalf("%d flows after the first pass, want the desired one and 7 stale", n)
	}
	line := "switch holds 50,007 stale Loom flows and takes no bundles; deleted 50,000 this pass, the next verify passes delete the rest"
	if r.logged(line) != 1 {
		t.Fatalf("%q not logged", line)
	}
	if n := r.full(t); n != 7 || len(r.conn.sw.Entries()) != 1 {
		t.Fatalf("second pass sent %d, table %v", n, r.tableText())
	}
	if n := r.full(t); n != 0 {
		t.Fatalf("third pass sent %d", n)
	}
}

func TestDiffBodyShowsTheReplacementWithoutSendingIt(t *testing.T) {
	t.Parallel()
	r := newRecRig(t, KeepForeign)
	r.desiredFlows(t, 6)
	insertStale(r.conn.sw, staleReplaceMin+1)
	sent := r.conn.sent
	want := r.d.peek(1, r.rec.log, r.st)
	ops, err := r.rec.diffBody(r.conn.sw.FlowStatsBody(), want, r.rec.holds(want))
	if err != nil || len(ops) != 7 || r.conn.sent != sent {
		t.Fatalf("%d ops (%v), %d sent; want 1 delete and 6 adds, none sent", len(ops), err, r.conn.sent-sent)
	}
	del := ops[0].flowMod()
	if del.Command != openflow.FlowDelete || del.TableID != openflow.TableAll || del.Cookie != flow.Marker ||
		del.CookieMask != flow.MarkerMask || del.OutPort != openflow.PortAny || del.OutGroup != openflow.GroupAny || len(del.Match) != 0 {
		t.Fatalf("bulk delete %+v, want every table, Loom's marker under its mask, any port and group", del)
	}
	for _, o := range ops[1:] {
		if o.cmd != openflow.FlowAdd {
			t.Fatalf("op %+v after the delete, want adds only", o)
		}
	}
	if _, err := r.rec.diffBody(r.conn.sw.FlowStatsBody()[:100], want, nil); err == nil {
		t.Fatal("a truncated body diffed without error")
	}
}

// The xid ring forgets everything after a verify interval with nothing
// sent, and keeps what was sent in the last one.
func TestXidRingAgesWhenIdle(t *testing.T) {
	x := newXidRing(16)
	x.put(7, op{cmd: 1})
	x.age() // sent since the last age: kept
	if _, ok := x.get(7); !ok {
		t.Fatal("a flow-mod sent in this interval was forgotten")
	}
	x.age() // nothing sent for a whole interval: gone
	if _, ok := x.get(7); ok || len(x.xids) != 0 {
		t.Fatalf("an idle ring still holds %d entries", len(x.ops))
	}
	x.put(8, op{cmd: 1}) // and works again
	if _, ok := x.get(8); !ok {
		t.Fatal("the ring does not take entries after ageing")
	}
}

// Begin implements ofConn: the in-memory switch answers at once.
func (c *simConn) Begin(ctx context.Context, m openflow.Outgoing) func() (openflow.Message, error) {
	msg, err := c.Request(ctx, m)
	return func() (openflow.Message, error) { return msg, err }
}
