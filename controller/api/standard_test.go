package api

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

// The standard health service answers load balancers, which carry no
// token, even on a server that wants one; it says SERVING for the whole
// server and each service, and NOT_SERVING once the API shuts down.
func TestHealthNeedsNoTokenAndFollowsShutdown(t *testing.T) {
	r := serve(t, Options{Token: "s3cret"})
	hc := healthpb.NewHealthClient(r.conn)
	for _, service := range []string{"", "loom.v1.FlowService", "loom.v1.NetworkService"} {
		resp, err := hc.Check(ctx(t), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q without a token: %v, %v", service, resp, err)
		}
	}
	if _, err := hc.Check(ctx(t), &healthpb.HealthCheckRequest{Service: "nosuch"}); code(err) != codes.NotFound {
		t.Fatalf("health of an unknown service: %v, want NotFound", err)
	}
	r.api.Shutdown()
	resp, err := hc.Check(ctx(t), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after Shutdown: %v, %v, want NOT_SERVING", resp, err)
	}
}

// Reflection lists Loom's services to a client with a read token, and to
// nobody without one.
func TestReflectionListsServicesWithAToken(t *testing.T) {
	r := serve(t, Options{Token: "s3cret"})
	list := func(c context.Context) ([]string, error) {
		stream, err := reflectionpb.NewServerReflectionClient(r.conn).ServerReflectionInfo(c)
		if err != nil {
			return nil, err
		}
		// A refused stream's Send says only io.EOF; its Recv says why.
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && err != io.EOF {
			return nil, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		_ = stream.CloseSend()
		if _, err := stream.Recv(); err != io.EOF && err != nil {
			return nil, err
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names, nil
	}
	if _, err := list(ctx(t)); code(err) != codes.Unauthenticated {
		t.Fatalf("reflection without a token: %v, want Unauthenticated", err)
	}
	names, err := list(metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, n := range names {
		found[n] = true
	}
	for _, want := range []string{"loom.v1.ControllerService", "loom.v1.FlowService", "grpc.health.v1.Health"} {
		if !found[want] {
			t.Errorf("reflection lists %v, without %s", names, want)
		}
	}
}
