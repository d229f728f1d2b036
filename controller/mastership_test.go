package controller

import (
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
)

// fakeCluster is a Mastership the test drives: it tells each reached
// switch the role the test sets.
type fakeCluster struct {
	mu    sync.Mutex
	roles map[uint64]func(cluster.Role)
}

func (f *fakeCluster) Reach(dpid uint64, roles func(cluster.Role)) func() {
	f.mu.Lock()
	f.roles[dpid] = roles
	f.mu.Unlock()
	roles(cluster.Role{Why: "no master elected yet"})
	return func() {
		f.mu.Lock()
		delete(f.roles, dpid)
		f.mu.Unlock()
	}
}
func (f *fakeCluster) Master(uint64) string               { return "" }
func (f *fakeCluster) Name() string                       { return "me" }
func (f *fakeCluster) Healthy() (bool, string)            { return true, "" }
func (f *fakeCluster) Instances() []cluster.InstanceState { return nil }

func (f *fakeCluster) tell(dpid uint64, r cluster.Role) {
	f.mu.Lock()
	roles := f.roles[dpid]
	f.mu.Unlock()
	roles(r)
}

func (f *fakeCluster) reached(dpid uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.roles[dpid] != nil
}

// oneFlow declares one flow on every switch that comes up.
type oneFlow struct{}

func (oneFlow) Name() string   { return "one" }
func (oneFlow) ID() flow.AppID { return 43 }
func (oneFlow) Tables() []flow.Table {
	return []flow.Table{{ID: 0, Name: "one", Owner: "one", Miss: flow.MissDrop}}
}
func (oneFlow) SwitchUp(ctx apps.Context, sw apps.Switch) {
	ctx.Set(sw.DPID, "k", flow.Flow{Table: 0, Priority: 7, Actions: []flow.Action{flow.Output(1)}})
}
func (oneFlow) SwitchDown(apps.Context, uint64) {}

// In a cluster a session writes nothing until elected; elected, it asks
// MASTER with the election's generation before any flow-mod; deposed, it
// stops writing and asks SLAVE with the new master's generation.
func TestClusterSessionWritesOnlyAsConfirmedMaster(t *testing.T) {
	fc := &fakeCluster{roles: map[uint64]func(cluster.Role){}}
	r := newRigWith(t, logrus.DebugLevel, func(c *Config) { c.Cluster = fc }, oneFlow{})
	sw := fakeswitchStart(r, 0xc1)
	r.eventually("the session reached the cluster", func() bool { return fc.reached(0xc1) })
	if n := len(sw.FlowMods()); n != 0 {
		t.Fatalf("%d flow-mods before any election", n)
	}
	if len(sw.Roles()) != 0 {
		t.Fatalf("role requests before any election: %+v", sw.Roles())
	}

	fc.tell(0xc1, cluster.Role{Mine: true, Generation: 7, Holder: "me"})
	r.eventually("the flows installed as master", func() bool { return len(sw.FlowMods()) > 0 })
	roles := sw.Roles()
	if len(roles) != 1 || roles[0].Role != openflow.RoleMaster || roles[0].Generation != wireGeneration(7) || roles[0].After != 0 {
		t.Fatalf("role requests as elected: %+v; want one MASTER with generation 7 before any flow-mod", roles)
	}
	if r.ctl.passive(0xc1) {
		t.Fatal("the elected master is passive")
	}

	fc.tell(0xc1, cluster.Role{Generation: 9, Holder: "other"})
	if !r.ctl.passive(0xc1) {
		t.Fatal("a deposed master is still writable right after being told") // synchronous, before any loop turn
	}
	r.eventually("a SLAVE request with the new master's generation", func() bool {
		rs := sw.Roles()
		return len(rs) == 2 && rs[1].Role == openflow.RoleSlave && rs[1].Generation == wireGeneration(9)
	})
	before := len(sw.FlowMods())
	bundles := sw.Table.Counts().Bundles
	r.ctl.desired.set(0xc1, owner{"one", "k2"}, 43, []flow.Flow{{Table: 0, Priority: 8}})
	if s := r.ctl.reg.get(0xc1); s != nil {
		s.kickSelf()
	}
	// A reconcile or refresh pass now would have to send it: none may.
	r.ctl.requestRefresh(0xc1)
	time.Sleep(300 * time.Millisecond)
	if got := len(sw.FlowMods()); got != before || sw.Table.Counts().Bundles != bundles {
		t.Fatalf("a SLAVE session wrote: %d flow-mods, %d bundles (had %d, %d)", got, sw.Table.Counts().Bundles, before, bundles)
	}
	if conds := r.ctl.passiveConditions(); len(conds) != 0 {
		t.Fatalf("a cluster slave shows in health as a problem: %+v", conds)
	}
}
