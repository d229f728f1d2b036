package store

import (
	"context"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Found by attack, fixed: a watch whose revisions were compacted away
// resyncs the networks key and the external declarations, but not
// hosts/: every host put or delete in the compacted range is lost for
// good (etcd_watch.go resync reads neither hosts/ nor reports their
// changes). The instance keeps a ghost host or never learns a new one,
// and computes different tunnel-mesh flows from the other instances.
func TestAttackEtcdWatchCompactedLosesHosts(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	rev := elect(t, cli, "/elect/a")
	a := openEtcd(t, cli, "/loom/", "a", masterOf("/elect/a", rev, 0xa))
	if err := a.SaveObserved([]Observed{{Kind: ObservedHosts, Key: "02:00:00:00:00:01", DPID: 0xa, Data: []byte(`{"mac":"02:00:00:00:00:01","dpid":10}`)}}); err != nil {
		t.Fatal(err)
	}
	b := openEtcd(t, cli, "/loom/", "b", nil)
	n := 0
	if err := b.LoadObserved(ObservedHosts, func(Observed) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("b loaded %d hosts, %v", n, err)
	}
	// While b's watch is not running (or is cut off), a's master deletes
	// h1 and learns h2; the revisions are then compacted.
	if err := a.SaveObserved([]Observed{
		{Kind: ObservedHosts, Key: "02:00:00:00:00:01", DPID: 0xa, Delete: true},
		{Kind: ObservedLinks, Key: "000000000000000a:1>000000000000000b:2", DPID: 0xa, Data: []byte("a")},
		{Kind: ObservedHosts, Key: "02:00:00:00:00:02", DPID: 0xa, Data: []byte(`{"mac":"02:00:00:00:00:02","dpid":10}`)},
	}); err != nil {
		t.Fatal(err)
	}
	// Something later, so the compaction covers a's write.
	resp, err := cli.Put(ctxT(t), "/unrelated", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctxT(t), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	hosts := make(chan Observed, 10)
	b.Watch(context.Background(), EtcdWatch{Observed: func(o Observed) { hosts <- o }})
	got := map[string]Observed{}
	deadline := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case h := <-hosts:
			got[h.Key] = h
		case <-deadline:
			t.Fatalf("after a compaction b's watch reported hosts %v; want h1 deleted, h2 and a link put: "+
				"the resync ignores hosts/, so b keeps h1 and never learns h2", got)
		}
	}
	if !got["02:00:00:00:00:01"].Delete || got["02:00:00:00:00:02"].Delete ||
		got["000000000000000a:1>000000000000000b:2"].Kind != ObservedLinks {
		t.Fatalf("after a compaction: %+v", got)
	}
}

// Found by attack (an etcd subtlety), fixed: a compaction
// at exactly the revision the watch resumes from (cursor+1) is not
// reported as a compaction (etcd refuses only start < compactRev), yet
// the compaction removed the tombstones at that revision: the deletion
// is never reported and no resync runs. The instance keeps an external
// declaration every other instance deleted.
func TestAttackEtcdWatchFromCompactRevisionMissesDelete(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	b := openEtcd(t, cli, "/loom/", "b", nil)
	if err := b.SaveDesired([]DesiredChange{ext("k1", "1")}); err != nil {
		t.Fatal(err)
	}
	a := openEtcd(t, cli, "/loom/", "a", nil) // cursor: the revision of k1's put
	loadEtcd(t, a.LoadDesired)
	a.LoadNetworks()
	if err := b.SaveDesired([]DesiredChange{{DPID: 0xa, App: ExternalApp, Key: "k1", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(ctxT(t), "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctxT(t), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	w := watch(a)
	w.wantExternal(t, "k1", true)
}
