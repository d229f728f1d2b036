// Package api is the gRPC adapter of the controller's Go API: one line per
// RPC, errors mapped to codes in one table, and the server's protections
// (TLS, mutual TLS, named bearer tokens with scopes, message and stream limits, keepalive
// enforcement) set from Options.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/loomsdn/loom/controller/northbound"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Options configure the server. Zero values are safe defaults.
type Options struct {
	// TLS serves over TLS; with ClientCAs set and ClientAuth required it
	// is mutual TLS. Nil serves plaintext (keep it on localhost).
	TLS *tls.Config
	// Tokens, when any, are required from every client as
	// "authorization: Bearer <secret>", each call needing the scope
	// methodRules gives its RPC. None: the API is open (keep it on
	// localhost).
	Tokens []Token
	// Token is shorthand for one operator token named "default".
	Token string
	// Log, when set, gets refused calls, once a minute per client, and
	// one audit line per call that changes something (audit.go).
	Log logrus.FieldLogger
	// MaxMessageBytes bounds a request (default 4 MiB): larger ones get
	// ResourceExhausted.
	MaxMessageBytes int
	// MaxConcurrentStreams bounds streams per connection (default 128).
	MaxConcurrentStreams uint32
	// Metrics, when set, counts requests (before authentication, so
	// refused ones count too) and refusals by reason.
	Metrics *Metrics

	now func() time.Time // the refusal log's clock (tests)
}

// NewServer returns a gRPC server exposing a's services.
func NewServer(a *northbound.API, o Options) *grpc.Server {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 4 << 20
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 128
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(o.MaxMessageBytes),
		grpc.MaxConcurrentStreams(o.MaxConcurrentStreams),
		// A client pinging more often than this is dropped, not served.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
	}
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	if o.Metrics != nil {
		opts = append(opts, o.Metrics.options()...)
	}
	tokens := o.Tokens
	if o.Token != "" {
		tokens = append(tokens[:len(tokens):len(tokens)], Token{Name: DefaultTokenName, Scope: ScopeOperator, Secret: o.Token})
	}
	if len(tokens) > 0 {
		opts = append(opts, newAuthenticator(tokens, o.Metrics, o.Log, o.now).options()...)
	}
	var to auditor
	if a != nil {
		to = a
	}
	if o.Log != nil || to != nil {
		opts = append(opts, auditOptions(o.Log, to)...) // after authentication: it audits calls taken
	}
	s := grpc.NewServer(opts...)
	pb.RegisterControllerServiceServer(s, controllerServer{a: a})
	pb.RegisterTopologyServiceServer(s, topologyServer{a: a})
	pb.RegisterFlowServiceServer(s, flowServer{a: a})
	pb.RegisterPacketServiceServer(s, packetServer{a: a})
	pb.RegisterNetworkServiceServer(s, networkServer{a: a})
	// grpc.health.v1 for load balancers and probes (no token needed):
	// SERVING until the API shuts down. Reflection lets grpcurl and
	// grpcui call the API with no .proto at hand (scope read).
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	for name := range s.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	if a != nil {
		a.OnShutdown(hs.Shutdown)
	}
	reflection.Register(s)
	return s
}

type controllerServer struct {
	pb.UnimplementedControllerServiceServer
	a *northbound.API
}

func (s controllerServer) GetStatus(ctx context.Context, r *pb.GetStatusRequest) (*pb.GetStatusResponse, error) {
	resp, err := s.a.GetStatus(ctx, r)
	return resp, toStatus(err)
}

func (s controllerServer) Reload(ctx context.Context, r *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	resp, err := s.a.Reload(ctx, r)
	return resp, toStatus(err)
}

func (s controllerServer) Plan(ctx context.Context, r *pb.PlanRequest) (*pb.PlanResponse, error) {
	resp, err := s.a.Plan(ctx, r)
	return resp, toStatus(err)
}

func (s controllerServer) ForgetSwitch(ctx context.Context, r *pb.ForgetSwitchRequest) (*pb.ForgetSwitchResponse, error) {
	resp, err := s.a.ForgetSwitch(ctx, r)
	return resp, toStatus(err)
}

func (s controllerServer) ListInstances(ctx context.Context, r *pb.ListInstancesRequest) (*pb.ListInstancesResponse, error) {
	resp, err := s.a.ListInstances(ctx, r)
	return resp, toStatus(err)
}

func (s controllerServer) WatchEvents(r *pb.WatchEventsRequest, stream grpc.ServerStreamingServer[pb.Event]) error {
	err := s.a.WatchEvents(stream.Context(), r, stream.Send)
	if errors.Is(err, context.Canceled) {
		return nil // the client went away: not an error
	}
	return toStatus(err)
}

type topologyServer struct {
	pb.UnimplementedTopologyServiceServer
	a *northbound.API
}

func (s topologyServer) ListHypervisors(ctx context.Context, r *pb.ListHypervisorsRequest) (*pb.ListHypervisorsResponse, error) {
	resp, err := s.a.ListHypervisors(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) ListSwitches(ctx context.Context, r *pb.ListSwitchesRequest) (*pb.ListSwitchesResponse, error) {
	resp, err := s.a.ListSwitches(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) ListPorts(ctx context.Context, r *pb.ListPortsRequest) (*pb.ListPortsResponse, error) {
	resp, err := s.a.ListPorts(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) ListLinks(ctx context.Context, r *pb.ListLinksRequest) (*pb.ListLinksResponse, error) {
	resp, err := s.a.ListLinks(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) ListHosts(ctx context.Context, r *pb.ListHostsRequest) (*pb.ListHostsResponse, error) {
	resp, err := s.a.ListHosts(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) ListTunnels(ctx context.Context, r *pb.ListTunnelsRequest) (*pb.ListTunnelsResponse, error) {
	resp, err := s.a.ListTunnels(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) GetVM(ctx context.Context, r *pb.GetVMRequest) (*pb.GetVMResponse, error) {
	resp, err := s.a.GetVM(ctx, r)
	return resp, toStatus(err)
}

func (s topologyServer) WatchTopology(r *pb.WatchTopologyRequest, stream grpc.ServerStreamingServer[pb.TopologyEvent]) error {
	err := s.a.WatchTopology(stream.Context(), r, stream.Send)
	if errors.Is(err, context.Canceled) {
		return nil // the client went away: not an error
	}
	return toStatus(err)
}

type flowServer struct {
	pb.UnimplementedFlowServiceServer
	a *northbound.API
}

func (s flowServer) ListFlows(ctx context.Context, r *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
	resp, err := s.a.ListFlows(ctx, r)
	return resp, toStatus(err)
}

func (s flowServer) DiffFlows(ctx context.Context, r *pb.DiffFlowsRequest) (*pb.DiffFlowsResponse, error) {
	resp, err := s.a.DiffFlows(ctx, r)
	return resp, toStatus(err)
}

func (s flowServer) ListSwitchErrors(ctx context.Context, r *pb.ListSwitchErrorsRequest) (*pb.ListSwitchErrorsResponse, error) {
	resp, err := s.a.ListSwitchErrors(ctx, r)
	return resp, toStatus(err)
}

func (s flowServer) SetFlows(ctx context.Context, r *pb.SetFlowsRequest) (*pb.SetFlowsResponse, error) {
	resp, err := s.a.SetFlows(ctx, r)
	return resp, toStatus(err)
}

func (s flowServer) DeleteFlows(ctx context.Context, r *pb.DeleteFlowsRequest) (*pb.DeleteFlowsResponse, error) {
	resp, err := s.a.DeleteFlows(ctx, r)
	return resp, toStatus(err)
}

type packetServer struct {
	pb.UnimplementedPacketServiceServer
	a *northbound.API
}

func (s packetServer) WatchPacketIns(r *pb.WatchPacketInsRequest, stream grpc.ServerStreamingServer[pb.PacketIn]) error {
	err := s.a.WatchPacketIns(stream.Context(), r, stream.Send)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return toStatus(err)
}

func (s packetServer) SendPacketOut(ctx context.Context, r *pb.SendPacketOutRequest) (*pb.SendPacketOutResponse, error) {
	resp, err := s.a.SendPacketOut(ctx, r)
	return resp, toStatus(err)
}

type networkServer struct {
	pb.UnimplementedNetworkServiceServer
	a *northbound.API
}

func (s networkServer) ListNetworks(ctx context.Context, r *pb.ListNetworksRequest) (*pb.ListNetworksResponse, error) {
	resp, err := s.a.ListNetworks(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) AddNetwork(ctx context.Context, r *pb.AddNetworkRequest) (*pb.AddNetworkResponse, error) {
	resp, err := s.a.AddNetwork(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) DeleteNetwork(ctx context.Context, r *pb.DeleteNetworkRequest) (*pb.DeleteNetworkResponse, error) {
	resp, err := s.a.DeleteNetwork(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) ListTrunks(ctx context.Context, r *pb.ListTrunksRequest) (*pb.ListTrunksResponse, error) {
	resp, err := s.a.ListTrunks(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) AddTrunk(ctx context.Context, r *pb.AddTrunkRequest) (*pb.AddTrunkResponse, error) {
	resp, err := s.a.AddTrunk(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) DeleteTrunk(ctx context.Context, r *pb.DeleteTrunkRequest) (*pb.DeleteTrunkResponse, error) {
	resp, err := s.a.DeleteTrunk(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) ListACLs(ctx context.Context, r *pb.ListACLsRequest) (*pb.ListACLsResponse, error) {
	resp, err := s.a.ListACLs(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) AddACL(ctx context.Context, r *pb.AddACLRequest) (*pb.AddACLResponse, error) {
	resp, err := s.a.AddACL(ctx, r)
	return resp, toStatus(err)
}

func (s networkServer) DeleteACL(ctx context.Context, r *pb.DeleteACLRequest) (*pb.DeleteACLResponse, error) {
	resp, err := s.a.DeleteACL(ctx, r)
	return resp, toStatus(err)
}
