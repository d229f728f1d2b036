package store

import (
	"context"
	"errors"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/loomsdn/loom/internal/etcdtest"
	"github.com/loomsdn/loom/topology"
)

// Found by attack, fixed: ForgetSwitch deleted a switch's keys in chunks
// of maxTxnOps-1, each its own transaction guarded by "no reach/master
// key": a switch that reconnected part way was refused with
// ErrSwitchReached, yet the chunks before had lost their declarations
// for good (127 of 5,080 in every run), and no tombstone told the other
// instances. Now the declarations go by one range delete per app, with
// the directions and the tombstone, in one transaction: refused, nothing
// is gone; passed, everything is, however many declarations there are.
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
		app := []string{"l2", "vlan", "acl"}[i%3]
		changes = append(changes, DesiredChange{DPID: 0xa, App: app, Key: "k" + hex16(uint64(i)), Flows: []string{"f"}})
	}
	if err := a.SaveDesired(changes); err != nil {
		t.Fatal(err)
	}
	// The switch has reconnected when the transaction runs.
	if _, err := cli.Put(ctxT(t), reachPrefix+"loom2", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ForgetSwitch(ctxT(t), 0xa, false); !errors.Is(err, ErrSwitchReached) {
		t.Fatalf("forgetting a reached switch: %v", err)
	}
	if left := count(t, cli, "/loom/desired/"+hex16(0xa)+"/"); left != n {
		t.Errorf("ForgetSwitch refused, yet %d of the reconnected switch's %d declarations are gone", n-left, n)
	}
	if tomb := count(t, cli, "/loom/forgotten/"); tomb != 0 {
		t.Errorf("tombstone written by a refused forget: %d", tomb)
	}
	if _, err := cli.Delete(ctxT(t), reachPrefix, clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	got, err := a.ForgetSwitch(ctxT(t), 0xa, false)
	if err != nil || got != n {
		t.Fatalf("ForgetSwitch = %d, %v; want all %d declarations", got, err, n)
	}
	if left := count(t, cli, "/loom/desired/"+hex16(0xa)+"/"); left != 0 {
		t.Errorf("%d declarations left after the forget", left)
	}
}

// Found by attack, fixed: the controller reads a direction key with
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
