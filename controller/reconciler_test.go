package controller

import (
	"context"
	"errors"
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
	r.rec.probeBundles(context.Background())
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
	r.rec.probeBundles(context.Background())
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
