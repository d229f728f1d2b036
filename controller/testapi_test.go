package controller

import (
	"context"
	"fmt"
	"sort"

	"github.com/loomsdn/loom/flow"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// testAPI drives the runtime from the API's requests the way
// controller/northbound does, so the runtime's own tests (durability,
// shutdown) read as a client's calls without importing the layer above.
type testAPI struct{ c *Controller }

func (c *Controller) testAPI() testAPI { return testAPI{c} }

func (a testAPI) SetFlows(ctx context.Context, req *pb.SetFlowsRequest) (*pb.SetFlowsResponse, error) {
	var flows []flow.Flow
	for i, text := range req.GetFlows() {
		f, err := flow.Parse(text)
		if err != nil {
			return nil, &InvalidArgumentError{Field: fmt.Sprintf("flows[%d]", i), Reason: err.Error()}
		}
		flows = append(flows, f)
	}
	return &pb.SetFlowsResponse{}, a.c.SetExternalFlows(ctx, req.GetDpid(), req.GetClient(), req.GetKey(), flows)
}

func (a testAPI) DeleteFlows(ctx context.Context, req *pb.DeleteFlowsRequest) (*pb.DeleteFlowsResponse, error) {
	return &pb.DeleteFlowsResponse{}, a.c.DeleteExternalFlows(ctx, req.GetDpid(), req.GetClient(), req.GetKey())
}

func (a testAPI) ForgetSwitch(ctx context.Context, req *pb.ForgetSwitchRequest) (*pb.ForgetSwitchResponse, error) {
	n, err := a.c.ForgetSwitch(ctx, req.GetDpid(), req.GetAll(), "test")
	return &pb.ForgetSwitchResponse{Flows: uint32(n)}, err
}

// listedFlows are the flows declared under an external key, as text.
func (a testAPI) listedFlows(dpid uint64, key string) []string {
	var out []string
	for _, cl := range a.c.Declared(dpid) {
		if cl.App == externalApp && cl.Key == key {
			out = append(out, cl.Flow.String())
		}
	}
	sort.Strings(out)
	return out
}
