package api

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// A standalone loomd answers ListInstances FailedPrecondition, saying it
// runs without --etcd, and lists its switches with no master.
func TestStandaloneHasNoInstances(t *testing.T) {
	r := serve(t, Options{})
	_, err := pb.NewControllerServiceClient(r.conn).ListInstances(ctx(t), &pb.ListInstancesRequest{})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "not a cluster: loomd runs without --etcd") {
		t.Fatalf("ListInstances on a standalone loomd: %v, want FailedPrecondition naming --etcd", err)
	}
	r.top.SwitchConnected(0xc1, "192.0.2.10:40000", nil)
	sw, err := pb.NewTopologyServiceClient(r.conn).ListSwitches(ctx(t), &pb.ListSwitchesRequest{})
	if err != nil || len(sw.Switches) != 1 || sw.Switches[0].Master != "" {
		t.Fatalf("switches %v, %v; want one without a master", sw, err)
	}
}
