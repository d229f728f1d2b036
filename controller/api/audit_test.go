package api

import (
	"context"
	"strings"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc/metadata"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Every change the server takes leaves one audit line naming who, what
// and the result; reads leave none; a refused call is the refusal log's.
func TestChangesAreAudited(t *testing.T) {
	log, hook := test.NewNullLogger()
	r := serve(t, Options{Log: log, Tokens: []Token{{Name: "ops", Scope: ScopeOperator, Secret: "s3cret"}, {Name: "grafana", Scope: ScopeRead, Secret: "r3ad"}}})
	as := func(secret string) metadataCtx { return metadataCtx{t, secret} }
	nets := pb.NewNetworkServiceClient(r.conn)
	if _, err := pb.NewControllerServiceClient(r.conn).GetStatus(as("r3ad").ctx(), &pb.GetStatusRequest{}); err != nil {
		t.Fatal(err)
	}
	_, _ = nets.AddNetwork(as("s3cret").ctx(), &pb.AddNetworkRequest{Network: &pb.Network{Name: "web", Vlan: 10}})
	_, _ = nets.AddNetwork(as("r3ad").ctx(), &pb.AddNetworkRequest{Network: &pb.Network{Name: "db", Vlan: 20}}) // refused: read scope
	var audit []string
	for _, e := range hook.AllEntries() {
		if e.Message == "API change" {
			audit = append(audit, e.Data["who"].(string)+" "+e.Data["method"].(string)+" "+e.Data["result"].(string)+" "+e.Data["request"].(string))
		}
	}
	if len(audit) != 1 || !strings.HasPrefix(audit[0], "token ops /loom.v1.NetworkService/AddNetwork FailedPrecondition ") ||
		!strings.Contains(audit[0], `"name":"web"`) {
		t.Fatalf("audit lines %q, want one for ops's AddNetwork (no policy here: FailedPrecondition)", audit)
	}
	// The same record is in the event stream.
	stream, err := pb.NewControllerServiceClient(r.conn).WatchEvents(as("r3ad").ctx(), &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for {
		e, err := stream.Recv()
		if err != nil {
			break
		}
		events = append(events, e.Kind+" "+e.Subject+": "+e.Message)
	}
	if strings.Join(events, "\n") != "audit token ops: /loom.v1.NetworkService/AddNetwork: FailedPrecondition" {
		t.Fatalf("events %q", events)
	}
}

type metadataCtx struct {
	t      *testing.T
	secret string
}

func (m metadataCtx) ctx() context.Context {
	return metadata.AppendToOutgoingContext(ctx(m.t), "authorization", "Bearer "+m.secret)
}

func TestWhatIsAudited(t *testing.T) {
	for method, want := range map[string]bool{
		"/loom.v1.NetworkService/AddNetwork":     true,
		"/loom.v1.FlowService/SetFlows":          true,
		"/loom.v1.ControllerService/Reload":      true,
		"/loom.v1.PacketService/SendPacketOut":   false, // traffic, not a change
		"/loom.v1.TopologyService/ListSwitches":  false,
		"/grpc.health.v1.Health/Check":           false,
		"/loom.v1.ControllerService/WatchEvents": false,
	} {
		if got := audited(method); got != want {
			t.Errorf("audited(%s) = %v, want %v", method, got, want)
		}
	}
}

// A caller repeating a change in a loop leaves one audit line per call
// but one audit event per second, so the kept history is not flushed.
func TestRepeatedChangesAreOneEventPerSecond(t *testing.T) {
	log, hook := test.NewNullLogger()
	r := serve(t, Options{Log: log, Token: "s3cret"})
	as := metadataCtx{t, "s3cret"}
	nets := pb.NewNetworkServiceClient(r.conn)
	for i := 0; i < 5; i++ {
		_, _ = nets.AddNetwork(as.ctx(), &pb.AddNetworkRequest{Network: &pb.Network{Name: "web", Vlan: 10}})
	}
	lines := 0
	for _, e := range hook.AllEntries() {
		if e.Message == "API change" {
			lines++
		}
	}
	stream, err := pb.NewControllerServiceClient(r.conn).WatchEvents(as.ctx(), &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for {
		if _, err := stream.Recv(); err != nil {
			break
		}
		events++
	}
	if lines != 5 || events != 1 {
		t.Fatalf("%d audit lines and %d audit events for 5 calls in well under a second; want 5 and 1", lines, events)
	}
}
