package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/etcdtest"
)

// preferredOf finds a switch whose preferred instance among names is want.
func preferredOf(want string, names []string) uint64 {
	for d := uint64(1); ; d++ {
		if preferred(d, names) == want {
			return d
		}
	}
}

// Found by attack, fixed: the same switch reconnecting to its master
// instance (a TCP reset, an echo timeout, the registry replacing an
// unresponsive connection) moves the switch away and back. The old
// session's release makes the next evaluation delete the instance's reach
// and master keys (manage.go evaluate: want is built from n.local only)
// before the new session, still in setup, calls Reach: the other
// instance is now the only one reaching it, is preferred, stands and
// leads at once; RebalanceAfter later it hands the switch back. Two
// takeovers (restore, role request, full dump and diff each) for one
// connection bounce, and no hysteresis protects against a flapping
// switch connection.
func TestAttackReconnectToMasterMovesSwitch(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	rec := newRecorder()
	names := []string{"a", "b"}
	d := preferredOf("a", names)
	a := startNode(t, etcd.Endpoints(), "a")
	defer a.Close()
	b := startNode(t, etcd.Endpoints(), "b")
	defer b.Close()
	release := a.Reach(d, rec.roles("a", d))
	b.Reach(d, rec.roles("b", d))
	waitFor(t, "a masters its preferred switch", 15*time.Second, func() bool {
		m := rec.masters()[d]
		return len(m) == 1 && m[0] == "a"
	})
	gen := rec.told("a", d).Generation

	// The switch's connection to a bounces: the old session ends, the
	// new one is ready 100ms later. (Who led before, at start-up, does
	// not count.)
	bounced := time.Now()
	release()
	time.Sleep(100 * time.Millisecond)
	a.Reach(d, rec.roles("a", d))
	time.Sleep(3 * time.Second) // more than RebalanceAfter (1s)

	rec.mu.Lock()
	spans := append([]span(nil), rec.spans[d]...)
	rec.mu.Unlock()
	for _, s := range spans {
		if s.instance == "b" && s.from.After(bounced) {
			t.Fatalf("a reconnect of the switch to its master a made b master (generation %d, a had %d): spans %+v", s.gen, gen, spans)
		}
	}
}

// Found by attack, fixed: a candidacy key that belongs to no live
// instance (written without a lease: an operator's etcdctl put, a restore
// tool, a bug) leads the election forever. Nothing checks that the
// leader's instance is alive (model.leader, wantCandidacy, roleLocked),
// so every instance stands behind it and the switch has no master for
// good: nobody writes its flows or learns from it.
func TestAttackGhostCandidacyBlocksSwitchForever(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli := etcd.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/loom/cluster/master/0000000000000001/ghost", "ghost"); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	a := startNode(t, etcd.Endpoints(), "a")
	defer a.Close()
	a.Reach(1, rec.roles("a", 1))
	time.Sleep(6 * time.Second) // three leases
	if m := rec.masters()[1]; len(m) != 1 {
		t.Fatalf("switch 1 has masters %v after 3 leases; a is its only live reacher, the leader %q is no instance (told a: %+v)",
			m, a.Master(1), rec.told("a", 1))
	}
}

// Found by attack, fixed: the instance's announcement is written once
// per lease and then trusted from n.published; if instances/NAME goes
// (an operator's cleanup, etcdctl del --prefix) it is never written again
// while the lease lives. Every instance, this one included, then counts
// it as dead: its switches are handed to others after RebalanceAfter and
// it masters nothing until its lease changes (a restart or an etcd
// outage), although it is alive and in contact.
func TestAttackDeletedAnnouncementNeverRewritten(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	cli := etcd.Client()
	rec := newRecorder()
	names := []string{"a", "b"}
	d := preferredOf("a", names)
	a := startNode(t, etcd.Endpoints(), "a")
	defer a.Close()
	b := startNode(t, etcd.Endpoints(), "b")
	defer b.Close()
	a.Reach(d, rec.roles("a", d))
	b.Reach(d, rec.roles("b", d))
	waitFor(t, "a masters its preferred switch", 15*time.Second, func() bool {
		m := rec.masters()[d]
		return len(m) == 1 && m[0] == "a"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, "/loom/cluster/instances/a"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	resp, err := cli.Get(ctx, "/loom/cluster/instances/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		t.Errorf("a, alive and in contact, has not announced itself again 3s after its key went")
	}
	if m := rec.masters()[d]; len(m) != 1 || m[0] != "a" {
		t.Errorf("masters of a's preferred switch: %v, want [a]", m)
	}
}

// Found by CI under load, fixed: an instance cut off etcd whose lease
// expired (the others took its switches with later generations) came
// back, granted a new lease and wrote its candidacies again, but its
// model, not yet re-read, still held its previous lease's candidacy
// with the old, lower revision: it told its sessions MASTER with that
// generation for a second beside the real masters ("two masters", a
// generation going down). A candidacy at or before the revision the
// current lease claimed the name at is a previous life's: never master.
func TestPreviousLeasesCandidacyNeverMakesMaster(t *testing.T) {
	n := &Node{cfg: Config{Self: Instance{Name: "b"}}, m: newModel("/p/cluster/"), k: keys{"/p/cluster/"},
		handing: map[uint64]bool{}, published: map[string]bool{}}
	now := time.Now()
	n.m.put(n.k.instanceKey("b"), []byte(`{}`), 11, now)
	key := n.k.masterKey(7, "b")
	n.m.put(key, []byte("b"), 8, now) // the previous lease's, still in the model
	n.published[key] = true           // this lease wrote the key again
	n.lease, n.lastAck, n.epochRev = 1, now, 12
	n.cfg.Lease = 3 * time.Second
	if r := n.roleLocked(7, true); r.Mine {
		t.Fatalf("a candidacy of revision 8 from before this lease's claim at 12 made this instance master: %+v", r)
	}
	if _, _, ok := n.Guard(7); ok {
		t.Fatal("Guard names a previous lease's candidacy")
	}
	n.m.put(key, []byte("b"), 13, now) // the watch shows the new one
	if r := n.roleLocked(7, true); !r.Mine || r.Generation != 13 {
		t.Fatalf("this lease's own candidacy: %+v", r)
	}
}
