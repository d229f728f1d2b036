package store

import (
	"context"
	"errors"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/loomsdn/loom/internal/etcdtest"
	"github.com/loomsdn/loom/topology"
)

// Found by attack: ForgetSwitch deletes a switch's keys in chunks of
// maxTxnOps-1, each guarded by "no reach/master key", but the chunks are
// separate transactions. A switch that reconnects part way (its reach key
// appears between two chunks) is refused with ErrSwitchReached, as the
// doc promises ("a switch that reconnects meanwhile keeps its state"),
// yet the chunks before lost their declarations for good, and no
// tombstone tells the other instances: the new master restores a
// partial set from the store.
func TestAttackForgetRefusedMidwayHasDeletedHalfTheSwitch(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	rev := elect(t, cli, "/elect/a")
	reachPrefix := "/loom/cluster/reach/" + hex16(0xa) + "/"
	reached := func(dpid uint64) []string { return []string{"/loom/cluster/reach/" + hex16(dpid) + "/"} }
	a, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Instance: "a", Guard: masterOf("/elect/a", rev, 0xa), Reached: reached})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	const n = 40 * (maxTxnOps - 1)
	var changes []DesiredChange
	for i := 0; i < n; i++ {
		changes = append(changes, DesiredChange{DPID: 0xa, App: "l2", Key: "k" + hex16(uint64(i)), Flows: []string{"f"}})
	}
	if err := a.SaveDesired(changes); err != nil {
		t.Fatal(err)
	}
	// The switch reconnects as soon as the forget has begun: its new
	// instance writes its reach key.
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wch := cli.Watch(wctx, "/loom/desired/"+hex16(0xa)+"/", clientv3.WithPrefix())
	go func() {
		for wr := range wch {
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete {
					cli.Put(context.Background(), reachPrefix+"loom2", "x")
					return
				}
			}
		}
	}()
	_, err = a.ForgetSwitch(ctxT(t), 0xa, false)
	left := count(t, cli, "/loom/desired/"+hex16(0xa)+"/")
	if err == nil {
		t.Skipf("the reach key came after the last chunk (%d left)", left)
	}
	if !errors.Is(err, ErrSwitchReached) {
		t.Fatal(err)
	}
	if left != n {
		t.Errorf("ForgetSwitch refused (%v), yet %d of the reconnected switch's %d declarations are gone", err, n-left, n)
	}
	if tomb := count(t, cli, "/loom/forgotten/"); tomb != 0 {
		t.Errorf("tombstone written: %d", tomb)
	}
}

// Found by attack: the controller reads a direction key with
// topology.ParseEndpoint, which takes the datapath id's hex digits in
// either case, but ForgetSwitch finds a switch's directions by the
// lower-case substring "0x%016x:". A direction written in upper case (by
// hand, a restore tool, another version) is a live direction into the
// switch that forgetting it never deletes, and which its master cannot
// withdraw either (it deletes the canonical key): a link half that comes
// back at every instance's start.
func TestAttackForgetMissesUpperCaseDirection(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client()
	a, err := OpenEtcd(context.Background(), EtcdConfig{Client: cli, Instance: "a",
		Reached: func(dpid uint64) []string { return []string{"/loom/cluster/reach/" + hex16(dpid) + "/"} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	from, to := "0x00000000000000C1:5", "0x00000000000000A1:1"
	key := from + ">" + to
	if _, err := cli.Put(ctxT(t), "/loom/links/"+key, "heard"); err != nil {
		t.Fatal(err)
	}
	e, err := topology.ParseEndpoint(to)
	if err != nil || e.DPID != 0xa1 {
		t.Fatalf("test premise: %q parses to %v, %v", to, e, err)
	}
	if _, err := a.ForgetSwitch(ctxT(t), 0xa1, true); err != nil {
		t.Fatal(err)
	}
	var still []string
	if err := a.LoadObserved(ObservedLinks, func(o Observed) error { still = append(still, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(still) != 0 {
		t.Errorf("after forgetting 0xa1, the shared store still holds directions %v, which parse as into 0xa1", still)
	}
}
