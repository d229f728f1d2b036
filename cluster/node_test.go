package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/etcdtest"
)

// recorder keeps every role change each instance was told, per switch,
// on one clock, so a test can check that two masters never overlapped.
type recorder struct {
	mu      sync.Mutex
	current map[string]map[uint64]Role
	spans   map[uint64][]span // mastership intervals per switch
}

type span struct {
	instance   string
	from, till time.Time // till zero: still master
	gen        uint64
}

func newRecorder() *recorder {
	return &recorder{current: map[string]map[uint64]Role{}, spans: map[uint64][]span{}}
}

func (r *recorder) roles(instance string, dpid uint64) func(Role) {
	return func(role Role) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.current[instance] == nil {
			r.current[instance] = map[uint64]Role{}
		}
		was := r.current[instance][dpid].Mine
		r.current[instance][dpid] = role
		now := time.Now()
		switch {
		case role.Mine && !was:
			r.spans[dpid] = append(r.spans[dpid], span{instance: instance, from: now, gen: role.Generation})
		case !role.Mine && was:
			ss := r.spans[dpid]
			for i := len(ss) - 1; i >= 0; i-- {
				if ss[i].instance == instance && ss[i].till.IsZero() {
					ss[i].till = now
					break
				}
			}
		}
	}
}

func (r *recorder) told(instance string, dpid uint64) Role {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current[instance][dpid]
}

// masters returns each switch's current masters (by what they were told).
func (r *recorder) masters() map[uint64][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[uint64][]string{}
	for inst, m := range r.current {
		for dpid, role := range m {
			if role.Mine {
				out[dpid] = append(out[dpid], inst)
			}
		}
	}
	return out
}

// checkNoOverlap fails when two instances were master of one switch at
// once, or a later master's generation did not grow.
func (r *recorder) checkNoOverlap(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for dpid, ss := range r.spans {
		for i := 1; i < len(ss); i++ {
			prev, cur := ss[i-1], ss[i]
			if prev.till.IsZero() || prev.till.After(cur.from) {
				t.Errorf("switch %d: %s was master until %v, %s from %v: two masters", dpid, prev.instance, prev.till, cur.instance, cur.from)
			}
			if cur.gen <= prev.gen && cur.instance != prev.instance {
				t.Errorf("switch %d: generation went from %d (%s) to %d (%s)", dpid, prev.gen, prev.instance, cur.gen, cur.instance)
			}
		}
	}
}

func startNode(t *testing.T, endpoints []string, name string) *Node {
	t.Helper()
	n, err := Start(Config{Endpoints: endpoints, Self: Instance{Name: name}, Lease: 2 * time.Second, RebalanceAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const switches = 30

// everyOneMaster says whether every switch has exactly one master, none
// of them in skip.
func everyOneMaster(r *recorder, skip string) bool {
	m := r.masters()
	for d := uint64(1); d <= switches; d++ {
		if len(m[d]) != 1 || m[d][0] == skip {
			return false
		}
	}
	return true
}

// Three instances reaching the same switches share them, one master
// each; when one is cut off from etcd it steps down before anyone else
// takes over, the others take its switches within the lease and a bit,
// and when it comes back it gets its share again, never with two masters.
func TestMastershipSpreadsFailsOverAndRebalances(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	rec := newRecorder()
	names := []string{"a", "b", "c"}
	proxies := map[string][]*etcdtest.Proxy{}
	nodes := map[string]*Node{}
	for _, name := range names {
		proxies[name] = etcdtest.Proxies(t, etcd)
		nodes[name] = startNode(t, etcdtest.URLs(proxies[name]), name)
		defer nodes[name].Close()
		for d := uint64(1); d <= switches; d++ {
			nodes[name].Reach(d, rec.roles(name, d))
		}
	}
	waitFor(t, "one master per switch", 15*time.Second, func() bool { return everyOneMaster(rec, "") })
	waitFor(t, "the preferred instances master", 15*time.Second, func() bool {
		m := rec.masters()
		for d := uint64(1); d <= switches; d++ {
			if len(m[d]) != 1 || m[d][0] != preferred(d, names) {
				return false
			}
		}
		return true
	})
	for d := uint64(1); d <= switches; d++ {
		owner := rec.masters()[d][0]
		for _, name := range names {
			_, rev, ok := nodes[name].Guard(d)
			if ok != (name == owner) {
				t.Fatalf("switch %d: Guard on %s says %v; master is %s", d, name, ok, owner)
			}
			if told := rec.told(name, d); ok && uint64(rev) != told.Generation {
				t.Fatalf("switch %d: guard revision %d, generation told %d", d, rev, told.Generation)
			}
			if got := nodes[name].Master(d); got != owner {
				t.Fatalf("switch %d: %s says the master is %q, want %s", d, name, got, owner)
			}
		}
	}
	counts := map[string]int{}
	for _, in := range nodes["a"].Instances() {
		counts[in.Name] = in.Masters
		if in.State != "live" {
			t.Fatalf("instance %s is %s", in.Name, in.State)
		}
	}
	if counts["a"]+counts["b"]+counts["c"] != switches || counts["a"] == 0 || counts["b"] == 0 || counts["c"] == 0 {
		t.Fatalf("masters per instance: %v", counts)
	}

	// Cut b off etcd: it steps down, and a and c take its switches.
	for _, p := range proxies["b"] {
		p.Cut()
	}
	cut := time.Now()
	waitFor(t, "b's switches taken over", 10*time.Second, func() bool { return everyOneMaster(rec, "b") })
	if took := time.Since(cut); took > 2*time.Second+time.Second+500*time.Millisecond {
		t.Errorf("failover took %s, want within the lease (2s) and a second", took)
	}
	if ok, why := nodes["b"].Healthy(); ok || why == "" {
		t.Fatalf("b cut off etcd says healthy=%v %q", ok, why)
	}

	// b comes back and, after RebalanceAfter, masters its share again.
	for _, p := range proxies["b"] {
		p.Mend()
	}
	waitFor(t, "b masters its preferred switches again", 20*time.Second, func() bool {
		m := rec.masters()
		for d := uint64(1); d <= switches; d++ {
			if len(m[d]) != 1 || m[d][0] != preferred(d, names) {
				return false
			}
		}
		return true
	})
	rec.checkNoOverlap(t)
}

// A second process that takes a live instance's name is kept out: it
// waits for the name's lease instead of mastering the same switches.
func TestDuplicateNameWaits(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	rec := newRecorder()
	first := startNode(t, etcd.Endpoints(), "a")
	defer first.Close()
	first.Reach(1, rec.roles("first", 1))
	waitFor(t, "the first is master", 10*time.Second, func() bool { return len(rec.masters()[1]) == 1 })
	second := startNode(t, etcd.Endpoints(), "a")
	second.Reach(1, rec.roles("second", 1))
	time.Sleep(3 * time.Second)
	if m := rec.masters()[1]; len(m) != 1 || m[0] != "first" {
		t.Fatalf("masters with a duplicate name: %v", m)
	}
	// Once the first leaves, the second gets the name and the switch.
	first.Close()
	waitFor(t, "the second takes over", 10*time.Second, func() bool {
		m := rec.masters()[1]
		return len(m) == 1 && m[0] == "second"
	})
	second.Close()
	rec.checkNoOverlap(t)
}
