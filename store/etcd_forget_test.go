package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/loomsdn/loom/internal/etcdtest"
)

// Forgetting a switch in the shared store: every app's declarations for
// it go (the API's only with all), the hosts seen on it and the probe
// directions through it go, others' stay; refused, naming who, while an
// instance reaches it; every instance's watch hears the tombstone.
func TestEtcdForgetSwitch(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	rev := elect(t, cli, "/elect/a")
	reached := func(dpid uint64) []string {
		return []string{"/loom/cluster/reach/" + hex16(dpid) + "/", "/loom/cluster/master/" + hex16(dpid) + "/"}
	}
	a, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Instance: "a", Guard: masterOf("/elect/a", rev, 0xa, 0xb), Reached: reached})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b := openEtcd(t, cli, "/loom/", "b", nil)
	forgotten := make(chan uint64, 4)
	b.Watch(context.Background(), EtcdWatch{Forgotten: func(dpid uint64, all bool) {
		if !all {
			forgotten <- dpid
		}
	}})

	var changes []DesiredChange
	for i := 0; i < 300; i++ { // more than one transaction's worth
		changes = append(changes, DesiredChange{DPID: 0xa, App: "l2", Key: "k" + strings.Repeat("x", i%7) + hex16(uint64(i)), Flows: []string{"f"}})
	}
	changes = append(changes, ext("api-flow", "f"), DesiredChange{DPID: 0xb, App: "l2", Key: "other", Flows: []string{"f"}})
	if err := a.SaveDesired(changes); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveObserved([]Observed{
		{Kind: ObservedHosts, Key: "02:00:00:00:00:01", DPID: 0xa, Data: []byte(`{"mac":"02:00:00:00:00:01","dpid":10}`)},
		{Kind: ObservedHosts, Key: "02:00:00:00:00:02", DPID: 0xb, Data: []byte(`{"mac":"02:00:00:00:00:02","dpid":11}`)},
		{Kind: ObservedLinks, Key: "0x000000000000000b:1>0x000000000000000a:2", DPID: 0xa, Data: []byte("heard")},
		{Kind: ObservedLinks, Key: "0x000000000000000a:2>0x000000000000000b:1", DPID: 0xb, Data: []byte("heard")},
		{Kind: ObservedLinks, Key: "0x000000000000000b:3>0x000000000000000c:4", DPID: 0xb, Data: []byte("heard")},
	}); err != nil {
		t.Fatal(err)
	}

	// An instance still reaches it: refused, nothing deleted.
	if _, err := cli.Put(ctxT(t), "/loom/cluster/reach/"+hex16(0xa)+"/loom7", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ForgetSwitch(ctxT(t), 0xa, false); !errors.Is(err, ErrSwitchReached) || !strings.Contains(err.Error(), "loom7") {
		t.Fatalf("forgetting a reached switch: %v, want ErrSwitchReached naming loom7", err)
	}
	if n := count(t, cli, "/loom/desired/"+hex16(0xa)+"/"); n != 301 {
		t.Fatalf("a refused forget left %d declarations, want 301", n)
	}
	if _, err := cli.Delete(ctxT(t), "/loom/cluster/reach/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}

	n, err := a.ForgetSwitch(ctxT(t), 0xa, false)
	if err != nil || n != 300+1+2 {
		t.Fatalf("ForgetSwitch = %d, %v; want 303 keys (300 declarations, a host, two directions)", n, err)
	}
	if n := count(t, cli, "/loom/desired/"+hex16(0xa)+"/"); n != 1 {
		t.Fatalf("%d declarations left on the switch; want the API's one", n)
	}
	for prefix, want := range map[string]int64{"/loom/desired/" + hex16(0xb) + "/": 1, "/loom/hosts/": 1, "/loom/links/": 1} {
		if n := count(t, cli, prefix); n != want {
			t.Fatalf("%s holds %d keys after forgetting 0xa, want %d: another switch's state went", prefix, n, want)
		}
	}
	select {
	case d := <-forgotten:
		if d != 0xa {
			t.Fatalf("b heard switch 0x%x forgotten", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's watch never heard the switch forgotten")
	}
	if n, err := a.ForgetSwitch(ctxT(t), 0xa, true); err != nil || n != 1 {
		t.Fatalf("ForgetSwitch all = %d, %v; want the API's declaration", n, err)
	}
}

func hex16(d uint64) string { return fmt.Sprintf("%016x", d) }
