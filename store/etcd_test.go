package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// openEtcd opens a store on prefix, closed when the test ends.
func openEtcd(t *testing.T, cli *clientv3.Client, prefix, instance string, guard func(uint64) (string, int64, bool)) *Etcd {
	t.Helper()
	s, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Prefix: prefix, Instance: instance, Guard: guard, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", prefix, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// elect creates an election-like key and returns its CreateRevision.
func elect(t *testing.T, cli *clientv3.Client, key string) int64 {
	t.Helper()
	resp, err := cli.Put(ctxT(t), key, "me")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

// masterOf is a Guard naming one election key for the given switches.
func masterOf(key string, rev int64, dpids ...uint64) func(uint64) (string, int64, bool) {
	return func(dpid uint64) (string, int64, bool) {
		for _, d := range dpids {
			if d == dpid {
				return key, rev, true
			}
		}
		return "", 0, false
	}
}

func count(t *testing.T, cli *clientv3.Client, prefix string) int64 {
	t.Helper()
	resp, err := cli.Get(ctxT(t), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	return resp.Count
}

func value(t *testing.T, cli *clientv3.Client, key string) (string, bool) {
	t.Helper()
	resp, err := cli.Get(ctxT(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

func loadEtcd(t *testing.T, load func(func(DesiredChange) error) error) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	if err := load(func(c DesiredChange) error {
		got[fmt.Sprintf("%x/%s/%s", c.DPID, c.App, c.Key)] = c.Flows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEtcdSchema(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()

	s := openEtcd(t, cli, "/fresh/", "a", nil)
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
	if v, _ := value(t, cli, "/fresh/meta/schema_version"); v != "1" {
		t.Fatalf("stored version %q", v)
	}
	openEtcd(t, cli, "/fresh", "b", nil) // reopened, the "/" added

	// Two instances opening a fresh prefix together agree.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s *Etcd
			s, errs[i] = OpenEtcd(context.Background(), EtcdConfig{Client: cli, Prefix: "/together/", Instance: fmt.Sprint(i)})
			if s != nil {
				s.Close()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("opening together: %v", err)
		}
	}

	cli.Put(ctxT(t), "/newer/meta/schema_version", "99")
	_, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Prefix: "/newer/", Instance: "a"})
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "/newer/") {
		t.Fatalf("version 99: got %v, want ErrNewerSchema naming the prefix", err)
	}

	cli.Put(ctxT(t), "/garbage/meta/schema_version", "banana")
	_, err = OpenEtcd(context.Background(), EtcdConfig{Client: cli, Prefix: "/garbage/", Instance: "a"})
	if err == nil || errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "/garbage/meta/schema_version") {
		t.Fatalf("garbage version: got %v", err)
	}
	if v, _ := value(t, cli, "/garbage/meta/schema_version"); v != "banana" {
		t.Fatalf("the refused version was overwritten: %q", v)
	}
}

func TestEtcdDesiredRoundTrip(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	rev := elect(t, cli, "/elect/sw")
	s := openEtcd(t, cli, "/loom/", "a", masterOf("/elect/sw", rev, 0xc1, 0xc2, 0xc3))

	err := s.SaveDesired([]DesiredChange{
		{DPID: 0xc1, App: "l2", Key: "mac/02:00:00:00:00:01", Flows: []string{"table=0, priority=100 actions=drop", "table=1, priority=0 actions=FLOOD"}},
		{DPID: 0xc1, App: "l2", Key: "gone", Flows: []string{"x"}},
		{DPID: 0xc2, App: "l2", Key: "empty"},
		{DPID: 0xc2, App: ExternalApp, Key: "api/1", Flows: []string{"priority=5 actions=drop"}},
		// The same key twice in a batch: the last change is kept (etcd
		// refuses a transaction naming a key twice).
		{DPID: 0xc2, App: "l2", Key: "twice", Flows: []string{"first"}},
		{DPID: 0xc2, App: "l2", Key: "twice", Delete: true},
	})
	if err == nil {
		err = s.SaveDesired([]DesiredChange{{DPID: 0xc1, App: "l2", Key: "gone", Delete: true}})
	}
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := value(t, cli, "/loom/desired/00000000000000c1/l2/mac/02:00:00:00:00:01"); v != "table=0, priority=100 actions=drop\ntable=1, priority=0 actions=FLOOD" {
		t.Fatalf("stored %q", v)
	}

	// Read back by another store on the prefix, as after a restart.
	r := openEtcd(t, cli, "/loom/", "b", nil)
	got := loadEtcd(t, r.LoadDesired)
	want := map[string]int{"c1/l2/mac/02:00:00:00:00:01": 2, "c2/l2/empty": 0, "c2/external/api/1": 1}
	if len(got) != len(want) {
		t.Fatalf("loaded %v", got)
	}
	for k, n := range want {
		if fl, ok := got[k]; !ok || len(fl) != n {
			t.Fatalf("%s loaded as %q (%v), want %d flows", k, fl, ok, n)
		}
	}
	if got["c1/l2/mac/02:00:00:00:00:01"][1] != "table=1, priority=0 actions=FLOOD" {
		t.Fatalf("flows %q", got["c1/l2/mac/02:00:00:00:00:01"])
	}
	one := loadEtcd(t, func(fn func(DesiredChange) error) error { return r.LoadDesiredSwitch(0xc2, fn) })
	if len(one) != 2 || one["c2/external/api/1"][0] != "priority=5 actions=drop" {
		t.Fatalf("switch c2 loaded %v", one)
	}

	if err := s.SaveDesired([]DesiredChange{{DPID: 0xc1, App: "a/b", Key: "k"}}); err == nil {
		t.Fatal("an app name with / was stored")
	}

	// 300 changes of one switch in one batch: three transactions.
	var many []DesiredChange
	for i := range 300 {
		many = append(many, DesiredChange{DPID: 0xc3, App: "l3", Key: fmt.Sprintf("route/10.0.%d.0/24", i), Flows: []string{fmt.Sprintf("priority=%d actions=drop", i)}})
	}
	if err := s.SaveDesired(many); err != nil {
		t.Fatal(err)
	}
	if n := count(t, cli, "/loom/desired/00000000000000c3/l3/"); n != 300 {
		t.Fatalf("%d of 300 stored", n)
	}
	if v, _ := value(t, cli, "/loom/desired/00000000000000c3/l3/route/10.0.299.0/24"); v != "priority=299 actions=drop" {
		t.Fatalf("last of 300 stored as %q", v)
	}

	// More declarations than one page of a load.
	many = many[:0]
	for i := range 1100 {
		many = append(many, DesiredChange{DPID: uint64(i % 7), App: ExternalApp, Key: fmt.Sprint(i), Flows: []string{"actions=drop"}})
	}
	if err := s.SaveDesired(many); err != nil {
		t.Fatal(err)
	}
	if got := loadEtcd(t, r.LoadDesired); len(got) != 3+300+1100 {
		t.Fatalf("loaded %d declarations, want %d", len(got), 3+300+1100)
	}
	if s.Dropped() != 0 {
		t.Fatalf("dropped %d", s.Dropped())
	}
}

func TestEtcdGuard(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	stale := elect(t, cli, "/elect/2")
	if _, err := cli.Delete(ctxT(t), "/elect/2"); err != nil {
		t.Fatal(err)
	}
	elect(t, cli, "/elect/2") // another instance's now: a new CreateRevision
	live := elect(t, cli, "/elect/3")
	guard := func(dpid uint64) (string, int64, bool) {
		switch dpid {
		case 2:
			return "/elect/2", stale, true
		case 3:
			return "/elect/3", live, true
		}
		return "", 0, false
	}
	s := openEtcd(t, cli, "/loom/", "a", guard)

	var batch []DesiredChange
	for i := range 200 { // not master of 1; a stale mastership of 2, over two transactions
		batch = append(batch, DesiredChange{DPID: 1 + uint64(i%2), App: "l2", Key: fmt.Sprint(i), Flows: []string{"x"}})
	}
	batch = append(batch,
		DesiredChange{DPID: 3, App: "l2", Key: "mine", Flows: []string{"y"}},
		DesiredChange{DPID: 1, App: ExternalApp, Key: "api", Flows: []string{"z"}})
	if err := s.SaveDesired(batch); err != nil {
		t.Fatal(err)
	}
	if n := s.Dropped(); n != 200 {
		t.Fatalf("dropped %d, want 200", n)
	}
	for _, p := range []string{"/loom/desired/0000000000000001/l2/", "/loom/desired/0000000000000002/"} {
		if n := count(t, cli, p); n != 0 {
			t.Fatalf("%d keys under %s written without mastership", n, p)
		}
	}
	if v, _ := value(t, cli, "/loom/desired/0000000000000003/l2/mine"); v != "y" {
		t.Fatalf("the master's change stored as %q", v)
	}
	if v, _ := value(t, cli, "/loom/desired/0000000000000001/external/api"); v != "z" {
		t.Fatalf("the external change stored as %q", v)
	}

	// Mastership lost after the guard was taken: the write is dropped.
	cli.Delete(ctxT(t), "/elect/3")
	if err := s.SaveDesired([]DesiredChange{{DPID: 3, App: "l2", Key: "mine", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := value(t, cli, "/loom/desired/0000000000000003/l2/mine"); !ok || s.Dropped() != 201 {
		t.Fatalf("a deposed master deleted (still there: %v, dropped %d)", ok, s.Dropped())
	}
}

func TestEtcdNetworksCAS(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	a := openEtcd(t, cli, "/loom/", "a", nil)
	b := openEtcd(t, cli, "/loom/", "b", nil)
	for _, s := range []*Etcd{a, b} {
		if data, err := s.LoadNetworks(); err != nil || data != nil {
			t.Fatalf("empty store: %q, %v", data, err)
		}
	}
	if err := a.SaveNetworks([]byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	err := b.SaveNetworks([]byte(`{"b":1}`))
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "/loom/networks") {
		t.Fatalf("save over another's change: got %v, want ErrConflict naming the key", err)
	}
	if data, err := b.LoadNetworks(); err != nil || string(data) != `{"a":1}` {
		t.Fatalf("loaded %q, %v", data, err)
	}
	if err := b.SaveNetworks([]byte(`{"b":2}`)); err != nil {
		t.Fatalf("save after reading again: %v", err)
	}
	if err := b.SaveNetworks([]byte(`{"b":3}`)); err != nil {
		t.Fatalf("save after its own save: %v", err)
	}
	if err := a.SaveNetworks([]byte(`{"a":2}`)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a's stale save: %v", err)
	}
	if v, _ := value(t, cli, "/loom/networks"); v != `{"b":3}` {
		t.Fatalf("stored %q", v)
	}
}

func TestEtcdTopologyPerInstance(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	a := openEtcd(t, cli, "/loom/", "a", nil)
	b := openEtcd(t, cli, "/loom/", "b", nil)
	if got, err := a.LoadTopology(); err != nil || got != nil {
		t.Fatalf("empty store returned %q, %v", got, err)
	}
	if err := a.SaveTopology([]byte(`{"revision":7}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveTopology([]byte(`{"revision":9}`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := openEtcd(t, cli, "/loom/", "a", nil).LoadTopology(); string(got) != `{"revision":7}` {
		t.Fatalf("a loaded %q", got)
	}
	if got, _ := b.LoadTopology(); string(got) != `{"revision":9}` {
		t.Fatalf("b loaded %q", got)
	}
}

// watched collects what a watch reports.
type watched struct {
	networks chan string
	external chan DesiredChange
}

func watch(s *Etcd) *watched {
	w := &watched{networks: make(chan string, 100), external: make(chan DesiredChange, 100)}
	s.Watch(context.Background(), EtcdWatch{
		Networks: func(data []byte) {
			if data == nil {
				w.networks <- "<deleted>"
				return
			}
			w.networks <- string(data)
		},
		External: func(ch DesiredChange) { w.external <- ch },
	})
	return w
}

func (w *watched) wantNetworks(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-w.networks:
		if got != want {
			t.Fatalf("watch reported networks %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("watch did not report networks %q", want)
	}
}

func (w *watched) wantExternal(t *testing.T, key string, del bool, flows ...string) {
	t.Helper()
	select {
	case got := <-w.external:
		if got.Key != key || got.Delete != del || strings.Join(got.Flows, "\n") != strings.Join(flows, "\n") {
			t.Fatalf("watch reported %+v, want key %s delete %v flows %q", got, key, del, flows)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("watch did not report external %s", key)
	}
}

func (w *watched) wantQuiet(t *testing.T) {
	t.Helper()
	select {
	case got := <-w.networks:
		t.Fatalf("watch reported networks %q", got)
	case got := <-w.external:
		t.Fatalf("watch reported %+v", got)
	default:
	}
}

func ext(key string, flows ...string) DesiredChange {
	return DesiredChange{DPID: 0xa, App: ExternalApp, Key: key, Flows: flows}
}

func TestEtcdWatch(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	rev := elect(t, cli, "/elect/a")
	a := openEtcd(t, cli, "/loom/", "a", masterOf("/elect/a", rev, 0xa))
	b := openEtcd(t, cli, "/loom/", "b", nil)

	// Written after a opened but before it loaded: the load has it, the
	// watch does not repeat it. Written after the load, before the
	// watch: the watch has it.
	if err := b.SaveDesired([]DesiredChange{ext("before-load", "1")}); err != nil {
		t.Fatal(err)
	}
	if got := loadEtcd(t, a.LoadDesired); len(got) != 1 {
		t.Fatalf("a loaded %v", got)
	}
	if _, err := a.LoadNetworks(); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveDesired([]DesiredChange{ext("after-load", "2")}); err != nil {
		t.Fatal(err)
	}
	w := watch(a)
	w.wantExternal(t, "after-load", false, "2")

	b.LoadNetworks()
	if err := b.SaveNetworks([]byte("n1")); err != nil {
		t.Fatal(err)
	}
	w.wantNetworks(t, "n1")
	if err := b.SaveDesired([]DesiredChange{ext("api/1", "p=1 actions=drop", "p=2 actions=drop")}); err != nil {
		t.Fatal(err)
	}
	w.wantExternal(t, "api/1", false, "p=1 actions=drop", "p=2 actions=drop")
	if err := b.SaveDesired([]DesiredChange{{DPID: 0xa, App: ExternalApp, Key: "api/1", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	w.wantExternal(t, "api/1", true)

	// a's own writes are not reported, nor other apps' declarations; the
	// watch's report of n1 lets a's save of the networks through.
	if err := a.SaveNetworks([]byte("n2")); err != nil {
		t.Fatalf("a's save after the watch reported n1: %v", err)
	}
	if err := a.SaveDesired([]DesiredChange{ext("mine", "3"), {DPID: 0xa, App: "l2", Key: "k", Flows: []string{"4"}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveDesired([]DesiredChange{{DPID: 0xa, App: ExternalApp, Key: "mine", Delete: true}, {DPID: 0xa, App: ExternalApp, Key: "never", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	// A marker from b: everything before it has been through the watch.
	if err := b.SaveDesired([]DesiredChange{ext("marker", "5")}); err != nil {
		t.Fatal(err)
	}
	w.wantExternal(t, "marker", false, "5")
	w.wantQuiet(t)
	// The watch forgot a's own deletion once it saw it; deleting what
	// was not there left nothing to remember.
	a.extMu.Lock()
	left := len(a.ext)
	a.extMu.Unlock()
	if left != 3 { // before-load, after-load and marker
		t.Fatalf("a remembers %d external declarations, want 3", left)
	}

	// b, which had not seen n2, conflicts; after reading it saves, and a
	// hears of it.
	if err := b.SaveNetworks([]byte("n3")); !errors.Is(err, ErrConflict) {
		t.Fatalf("b's stale save: %v", err)
	}
	b.LoadNetworks()
	if err := b.SaveNetworks([]byte("n3")); err != nil {
		t.Fatal(err)
	}
	w.wantNetworks(t, "n3")

	// Close stops the watch: nothing more is reported.
	a.Close()
	b.SaveNetworks([]byte("n4"))
	time.Sleep(200 * time.Millisecond)
	w.wantQuiet(t)
}

// A watch whose revisions were compacted away reads the state again and
// reports what changed: writes, deletions and the networks.
func TestEtcdWatchCompacted(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	a := openEtcd(t, cli, "/loom/", "a", nil)
	b := openEtcd(t, cli, "/loom/", "b", nil)
	if err := b.SaveDesired([]DesiredChange{ext("k1", "1"), ext("k2", "2"), ext("same", "s")}); err != nil {
		t.Fatal(err)
	}
	b.LoadNetworks()
	if err := b.SaveNetworks([]byte("n1")); err != nil {
		t.Fatal(err)
	}
	loadEtcd(t, a.LoadDesired)
	a.LoadNetworks()

	if err := b.SaveDesired([]DesiredChange{{DPID: 0xa, App: ExternalApp, Key: "k1", Delete: true}, ext("k2", "2b"), ext("k3", "3")}); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveNetworks([]byte("n2")); err != nil {
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
	w.wantNetworks(t, "n2")
	got := map[string]DesiredChange{}
	for range 3 {
		select {
		case ch := <-w.external:
			got[ch.Key] = ch
		case <-time.After(5 * time.Second):
			t.Fatalf("after a compaction the watch reported only %v", got)
		}
	}
	if !got["k1"].Delete || got["k2"].Flows[0] != "2b" || got["k3"].Flows[0] != "3" {
		t.Fatalf("after a compaction the watch reported %v", got)
	}
	// It resumes watching after the read.
	if err := b.SaveDesired([]DesiredChange{ext("k4", "4")}); err != nil {
		t.Fatal(err)
	}
	w.wantExternal(t, "k4", false, "4")
	w.wantQuiet(t)
}

// With etcd down every request fails within its timeout, the watch waits
// and Close does not hang; once etcd is back both work again.
func TestEtcdUnreachable(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	s, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Instance: "a", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := openEtcd(t, c.Client(), "", "b", nil)
	s.LoadNetworks()
	w := watch(s)

	c.Member(0).Kill9()
	start := time.Now()
	err = s.SaveDesired([]DesiredChange{ext("k", "1")})
	if took := time.Since(start); err == nil || took > 2500*time.Millisecond {
		t.Fatalf("SaveDesired with etcd down: %v after %s, want an error within about 1s", err, took)
	}
	start = time.Now()
	if _, err := s.LoadNetworks(); err == nil || time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("LoadNetworks with etcd down: %v after %s", err, time.Since(start))
	}

	if err := c.Member(0).Restart(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for err = s.SaveDesired([]DesiredChange{ext("k", "1")}); err != nil; err = s.SaveDesired([]DesiredChange{ext("k", "1")}) {
		if time.Now().After(deadline) {
			t.Fatalf("SaveDesired after etcd came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, _ := value(t, cli, "/loom/desired/000000000000000a/external/k"); v != "1" {
		t.Fatalf("stored %q", v)
	}
	// The watch came back too.
	if err := b.SaveDesired([]DesiredChange{ext("from-b", "2")}); err != nil {
		t.Fatal(err)
	}
	w.wantExternal(t, "from-b", false, "2")

	c.Member(0).Kill9()
	start = time.Now()
	s.Close()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close with etcd down took %s", took)
	}
}

// Every instance of a cluster gets the same probe key, made once; a
// corrupted one is refused with what to do.
func TestEtcdProbeKeyIsOneForTheCluster(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	a := openEtcd(t, cli, "/loom/", "a", nil)
	b := openEtcd(t, cli, "/loom/", "b", nil)
	ka, err := a.ProbeKey(ctxT(t))
	if err != nil || len(ka) != 32 {
		t.Fatalf("a's key %x, %v", ka, err)
	}
	kb, err := b.ProbeKey(ctxT(t))
	if err != nil || string(kb) != string(ka) {
		t.Fatalf("b's key %x, %v; want a's %x", kb, err, ka)
	}
	other := openEtcd(t, cli, "/other/", "a", nil)
	if ko, err := other.ProbeKey(ctxT(t)); err != nil || string(ko) == string(ka) {
		t.Fatalf("another prefix's key %x, %v: want its own", ko, err)
	}
	if _, err := cli.Put(ctxT(t), "/loom/meta/lldp-key", "not hex"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ProbeKey(ctxT(t)); err == nil || !strings.Contains(err.Error(), "/loom/meta/lldp-key") {
		t.Fatalf("a corrupted key: %v, want an error naming the key", err)
	}
}
