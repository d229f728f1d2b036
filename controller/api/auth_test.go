package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

var testTokens = []Token{
	{Name: "viewer", Scope: ScopeRead, Secret: "r-secret"},
	{Name: "floodguard", Scope: ScopeApp, Secret: "a-secret"},
	{Name: "ops", Scope: ScopeOperator, Secret: "o-secret"},
}

func bearer(t *testing.T, secret string) context.Context {
	return metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer "+secret)
}

// TestEveryRPCHasAScope fails when an RPC of the proto, or one the server
// serves, is missing from methodRules, or the table names one that is gone.
func TestEveryRPCHasAScope(t *testing.T) {
	inProto := map[string]bool{}
	services := pb.File_proto_loom_v1_loom_proto.Services()
	for i := 0; i < services.Len(); i++ {
		s := services.Get(i)
		for j := 0; j < s.Methods().Len(); j++ {
			m := "/" + string(s.FullName()) + "/" + string(s.Methods().Get(j).Name())
			inProto[m] = true
			if _, ok := methodRules[m]; !ok {
				t.Errorf("%s has no required scope in methodRules", m)
			}
		}
	}
	for m := range methodRules {
		if !inProto[m] {
			t.Errorf("methodRules names %s, which the proto does not define", m)
		}
	}
	srv := NewServer(nil, Options{})
	for name, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			if _, ok := ruleFor("/" + name + "/" + m.Name); !ok {
				t.Errorf("the server serves /%s/%s, which has no required scope", name, m.Name)
			}
		}
	}
	if len(inProto) < 25 {
		t.Fatalf("only %d RPCs found in the descriptors: the walk is broken", len(inProto))
	}
}

// call invokes method with an empty request of its type (client set to
// client when the request has one) and returns the error; for a stream,
// the error of its first message, a deadline meaning it was served.
func call(t *testing.T, c context.Context, conn *grpc.ClientConn, method protoreflect.MethodDescriptor, client string) error {
	t.Helper()
	full := "/" + string(method.Parent().FullName()) + "/" + string(method.Name())
	in, err := protoregistry.GlobalTypes.FindMessageByName(method.Input().FullName())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := protoregistry.GlobalTypes.FindMessageByName(method.Output().FullName())
	req := in.New()
	if fd := req.Descriptor().Fields().ByName("client"); fd != nil {
		req.Set(fd, protoreflect.ValueOfString(client))
	}
	if !method.IsStreamingServer() {
		return conn.Invoke(c, full, req.Interface(), out.New().Interface())
	}
	c, cancel := context.WithTimeout(c, 300*time.Millisecond)
	defer cancel()
	s, err := conn.NewStream(c, &grpc.StreamDesc{ServerStreams: true}, full)
	if err != nil {
		return err
	}
	if err := s.SendMsg(req.Interface()); err != nil {
		return err
	}
	s.CloseSend()
	if err := s.RecvMsg(out.New().Interface()); code(err) != codes.DeadlineExceeded {
		return err
	}
	return nil
}

// TestScopesPerRPC calls every RPC with every scope, no token and a wrong
// one, through a real gRPC server.
func TestScopesPerRPC(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := serve(t, Options{Tokens: testTokens, Metrics: NewMetrics(reg)})
	services := pb.File_proto_loom_v1_loom_proto.Services()
	n := 0
	for i := 0; i < services.Len(); i++ {
		s := services.Get(i)
		for j := 0; j < s.Methods().Len(); j++ {
			m := s.Methods().Get(j)
			full := "/" + string(s.FullName()) + "/" + string(m.Name())
			need := methodRules[full]
			for _, tok := range testTokens {
				err := call(t, bearer(t, tok.Secret), r.conn, m, tok.Name)
				if tok.Scope < need.scope {
					if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "needs scope "+need.scope.String()) {
						t.Errorf("%s with a %s token: %v, want PermissionDenied naming scope %s", full, tok.Scope, err, need.scope)
					}
					continue
				}
				if c := code(err); c == codes.PermissionDenied || c == codes.Unauthenticated {
					t.Errorf("%s with a %s token: %v, want it served", full, tok.Scope, err)
				}
			}
			if err := call(t, ctx(t), r.conn, m, ""); code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "missing bearer token") {
				t.Errorf("%s without a token: %v, want Unauthenticated", full, err)
			}
			if err := call(t, bearer(t, "r-secreT"), r.conn, m, ""); code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "wrong bearer token") {
				t.Errorf("%s with a wrong token: %v, want Unauthenticated", full, err)
			}
			n++
		}
	}
	if got := refusedCount(t, reg, reasonMissingToken); got != float64(n) {
		t.Errorf("missing_token refusals counted %v, want %d", got, n)
	}
	if got := refusedCount(t, reg, reasonWrongToken); got != float64(n) {
		t.Errorf("wrong_token refusals counted %v, want %d", got, n)
	}
	if got := refusedCount(t, reg, reasonScope); got == 0 {
		t.Errorf("scope refusals not counted")
	}
}

// refusedCount is loom_grpc_refused_total{reason} in reg.
func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "loom_grpc_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("loom_grpc_refused_total{reason=%q} not exposed", reason)
	return 0
}

func TestReadTokenIsRefusedWrites(t *testing.T) {
	r := serve(t, Options{Tokens: testTokens})
	read := bearer(t, "r-secret")
	if _, err := pb.NewControllerServiceClient(r.conn).GetStatus(read, &pb.GetStatusRequest{}); err != nil {
		t.Fatalf("GetStatus with a read token: %v", err)
	}
	_, err := pb.NewNetworkServiceClient(r.conn).AddNetwork(read, &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10}})
	if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "needs scope operator") || !strings.Contains(err.Error(), `"viewer" has scope read`) {
		t.Fatalf("AddNetwork with a read token: %v, want PermissionDenied naming scope operator and the token", err)
	}
	_, err = pb.NewFlowServiceClient(r.conn).SetFlows(read, &pb.SetFlowsRequest{Client: "viewer", Dpid: 1, Key: "k"})
	if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "needs scope app") {
		t.Fatalf("SetFlows with a read token: %v, want PermissionDenied naming scope app", err)
	}
}

func TestAppTokenSetsItsOwnFlowsOnly(t *testing.T) {
	conn, _ := withSwitchOpts(t, Options{Tokens: testTokens})
	app := bearer(t, "a-secret")
	fc := pb.NewFlowServiceClient(conn)
	own := &pb.SetFlowsRequest{Client: "floodguard", Dpid: 0xc1, Key: "block", Flows: []string{"table=0, priority=2000,in_port=3,dl_src=02:00:00:00:00:09 actions=drop"}}
	if _, err := fc.SetFlows(app, own); err != nil {
		t.Fatalf("SetFlows of its own with an app token: %v", err)
	}
	list, err := fc.ListFlows(app, &pb.ListFlowsRequest{Dpid: 0xc1})
	if err != nil || len(list.Flows) == 0 {
		t.Fatalf("ListFlows with an app token: %v, %v", list, err)
	}
	if _, err := fc.DeleteFlows(app, &pb.DeleteFlowsRequest{Client: "floodguard", Dpid: 0xc1, Key: "block"}); err != nil {
		t.Fatalf("DeleteFlows of its own with an app token: %v", err)
	}
	_, err = fc.SetFlows(app, &pb.SetFlowsRequest{Client: "billing", Dpid: 0xc1, Key: "block", Flows: own.Flows})
	if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `client must be "floodguard"`) {
		t.Fatalf("SetFlows of another client with an app token: %v, want PermissionDenied", err)
	}
	_, err = fc.DeleteFlows(app, &pb.DeleteFlowsRequest{Client: "billing", Dpid: 0xc1, Key: "block"})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("DeleteFlows of another client with an app token: %v, want PermissionDenied", err)
	}
	_, err = pb.NewNetworkServiceClient(conn).AddNetwork(app, &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10}})
	if code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "needs scope operator") {
		t.Fatalf("AddNetwork with an app token: %v, want PermissionDenied naming scope operator", err)
	}
	_, err = pb.NewControllerServiceClient(conn).ForgetSwitch(app, &pb.ForgetSwitchRequest{Dpid: 0xc1})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("ForgetSwitch with an app token: %v, want PermissionDenied", err)
	}
	// The operator may change any client's flows.
	if _, err := fc.SetFlows(bearer(t, "o-secret"), &pb.SetFlowsRequest{Client: "billing", Dpid: 0xc1, Key: "block", Flows: own.Flows}); err != nil {
		t.Fatalf("SetFlows of any client with an operator token: %v", err)
	}
}

// A client hammering with a wrong token is logged once a minute, with
// the count of what was left out; every refusal is counted.
func TestRefusalsAreLoggedOncePerClientPerMinute(t *testing.T) {
	log, hook := test.NewNullLogger()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	reg := prometheus.NewRegistry()
	r := serve(t, Options{Tokens: testTokens, Metrics: NewMetrics(reg), Log: log, now: clock})
	cc := pb.NewControllerServiceClient(r.conn)
	warnings := func() []*logrus.Entry {
		var out []*logrus.Entry
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel {
				out = append(out, e)
			}
		}
		return out
	}
	for i := 0; i < 200; i++ {
		if _, err := cc.GetStatus(bearer(t, "guess"), &pb.GetStatusRequest{}); code(err) != codes.Unauthenticated {
			t.Fatalf("wrong token: %v", err)
		}
	}
	if w := warnings(); len(w) != 1 || w[0].Data["reason"] != reasonWrongToken {
		t.Fatalf("200 refusals in a minute logged %d times (%v), want once", len(w), w)
	}
	// Another client (here: the same peer with a read token writing) is
	// logged on its own.
	pb.NewNetworkServiceClient(r.conn).AddNetwork(bearer(t, "r-secret"), &pb.AddNetworkRequest{})
	pb.NewNetworkServiceClient(r.conn).AddNetwork(bearer(t, "r-secret"), &pb.AddNetworkRequest{})
	if w := warnings(); len(w) != 2 || w[1].Data["token"] != "viewer" || w[1].Data["reason"] != reasonScope {
		t.Fatalf("the read token's refusals logged as %v, want one line naming it", w)
	}
	advance(59 * time.Second)
	cc.GetStatus(bearer(t, "guess"), &pb.GetStatusRequest{})
	if w := warnings(); len(w) != 2 {
		t.Fatalf("logged again within the minute: %v", w)
	}
	advance(2 * time.Second)
	cc.GetStatus(bearer(t, "guess"), &pb.GetStatusRequest{})
	w := warnings()
	if len(w) != 3 || w[2].Data["refused_since_last_log"] != 200 {
		t.Fatalf("after the minute: %v, want one more line saying 200 were left out", w)
	}
	if got := refusedCount(t, reg, reasonWrongToken); got != 202 {
		t.Fatalf("wrong_token refusals counted %v, want 202", got)
	}
}

// The refusal log remembers a bounded number of clients, forgetting the
// one logged longest ago first.
func TestRefusalLogIsBounded(t *testing.T) {
	log, hook := test.NewNullLogger()
	now := time.Unix(0, 0)
	l := newRefusalLog(log, 3, time.Minute, func() time.Time { return now })
	for i := 0; i < 1000; i++ {
		l.refused(fmt.Sprintf("192.0.2.%d", i%250), "", "/m", reasonWrongToken, codes.Unauthenticated)
		if l.size() > 3 {
			t.Fatalf("%d clients remembered, bound 3", l.size())
		}
	}
	hook.Reset()
	l = newRefusalLog(log, 3, time.Minute, func() time.Time { return now })
	for _, c := range []string{"a", "b", "c", "a", "d", "a", "b"} {
		l.refused(c, "", "/m", reasonWrongToken, codes.Unauthenticated)
	}
	// a, b, c logged; a again is quiet; d evicts a (logged longest
	// ago) and is logged; a is new again and evicts b; b evicts c.
	var got []string
	for _, e := range hook.AllEntries() {
		got = append(got, e.Data["peer"].(string))
	}
	if strings.Join(got, ",") != "a,b,c,d,a,b" {
		t.Fatalf("logged %v, want a,b,c,d,a,b", got)
	}
	if n := len(newRefusalLog(nil, refusalLogEntries, time.Minute, nil).clients); n != 0 || refusalLogEntries != 1024 {
		t.Fatalf("default bound %d", refusalLogEntries)
	}
}

// A token given without a secret (by a caller of NewServer; the file
// parser refuses one) matches nothing: the API stays closed.
func TestTokenWithoutSecretMatchesNothing(t *testing.T) {
	r := serve(t, Options{Tokens: []Token{{Name: "x", Scope: ScopeOperator}}})
	cc := pb.NewControllerServiceClient(r.conn)
	for _, v := range []string{"Bearer ", "Bearer", "bearer  "} {
		c := metadata.AppendToOutgoingContext(ctx(t), "authorization", v)
		if _, err := cc.GetStatus(c, &pb.GetStatusRequest{}); code(err) != codes.Unauthenticated {
			t.Fatalf("%q: %v, want Unauthenticated", v, err)
		}
	}
	if _, err := cc.GetStatus(ctx(t), &pb.GetStatusRequest{}); code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
}
