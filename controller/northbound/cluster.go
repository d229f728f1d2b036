package northbound

import (
	"context"

	"github.com/loomsdn/loom/controller"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// errNotCluster answers ListInstances on a standalone loomd.
var errNotCluster = &controller.FailedPreconditionError{Reason: "not a cluster: loomd runs without --etcd (or cluster.etcd in its config file)"}

// ListInstances implements ControllerService: the cluster's instances by
// name, this one marked self.
func (a *API) ListInstances(ctx context.Context, _ *pb.ListInstancesRequest) (*pb.ListInstancesResponse, error) {
	in := a.rt.Instances()
	if in == nil {
		return nil, errNotCluster
	}
	resp := &pb.ListInstancesResponse{}
	for _, x := range in {
		pi := &pb.Instance{Name: x.Name, Openflow: x.OpenFlow, Api: x.API, Version: x.Version, State: x.State,
			Masters: uint32(x.Masters), Self: x.Self}
		if !x.Started.IsZero() {
			pi.StartedUnixNano = x.Started.UnixNano()
		}
		resp.Instances = append(resp.Instances, pi)
	}
	return resp, nil
}
