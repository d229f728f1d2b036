package northbound

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/cluster/clustertest"
	"github.com/loomsdn/loom/controller"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

// newAPI is the API over a real controller with two switches, in the
// cluster c (nil: standalone).
func newAPI(t *testing.T, c controller.Mastership) *API {
	t.Helper()
	log, _ := test.NewNullLogger()
	top := topology.New()
	top.SwitchConnected(0xa1, "192.0.2.10:40001", nil)
	top.SwitchConnected(0xc1, "192.0.2.10:40002", nil)
	ctl, err := controller.New(controller.Config{Log: log, Topology: top, Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	a := New(ctl, nil, "test")
	t.Cleanup(a.Shutdown)
	return a
}

// In a cluster each switch names its master instance ("" for one none
// masters); standalone, none.
func TestListSwitchesNamesTheMaster(t *testing.T) {
	a := newAPI(t, &clustertest.Static{Self: "loom-b", Masters: map[uint64]string{0xa1: "loom-a"}})
	r, err := a.ListSwitches(context.Background(), &pb.ListSwitchesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]string{}
	for _, s := range r.Switches {
		got[s.Dpid] = s.Master
	}
	if len(got) != 2 || got[0xa1] != "loom-a" || got[0xc1] != "" {
		t.Fatalf("masters %v, want 0xa1 loom-a and 0xc1 none", got)
	}
	r, err = newAPI(t, nil).ListSwitches(context.Background(), &pb.ListSwitchesRequest{})
	if err != nil || len(r.Switches) != 2 || r.Switches[0].Master != "" || r.Switches[1].Master != "" {
		t.Fatalf("standalone: %v, %v; want two switches without a master", r, err)
	}
}

// ListInstances is the cluster's instances as the cluster lists them,
// every field carried; an unset start time stays 0.
func TestListInstances(t *testing.T) {
	started := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	a := newAPI(t, &clustertest.Static{Self: "loom-b", List: []cluster.InstanceState{
		{Instance: cluster.Instance{Name: "loom-a", OpenFlow: []string{"tcp:192.0.2.1:6653", "ssl:192.0.2.1:6654"}, API: "192.0.2.1:9652",
			Version: "v1.4.0", Started: started, Masters: 2}, State: "live"},
		{Instance: cluster.Instance{Name: "loom-b", Version: "v1.4.0"}, State: "joining", Self: true},
	}})
	r, err := a.ListInstances(context.Background(), &pb.ListInstancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Instances) != 2 {
		t.Fatalf("instances %v", r.Instances)
	}
	x, y := r.Instances[0], r.Instances[1]
	if x.Name != "loom-a" || len(x.Openflow) != 2 || x.Openflow[1] != "ssl:192.0.2.1:6654" || x.Api != "192.0.2.1:9652" ||
		x.Version != "v1.4.0" || x.State != "live" || x.Masters != 2 || x.Self || x.StartedUnixNano != started.UnixNano() {
		t.Errorf("loom-a: %v", x)
	}
	if y.Name != "loom-b" || y.State != "joining" || !y.Self || y.StartedUnixNano != 0 || y.Masters != 0 {
		t.Errorf("loom-b: %v", y)
	}
}

// A standalone loomd has no instances to list: FailedPrecondition,
// saying how a loomd joins a cluster.
func TestListInstancesStandalone(t *testing.T) {
	_, err := newAPI(t, nil).ListInstances(context.Background(), &pb.ListInstancesRequest{})
	var pre *controller.FailedPreconditionError
	if !errors.As(err, &pre) || pre.Reason != "not a cluster: loomd runs without --etcd (or cluster.etcd in its config file)" {
		t.Fatalf("standalone ListInstances: %v, want FailedPrecondition naming --etcd", err)
	}
}
