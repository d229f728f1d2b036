package api

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/northbound"
	"github.com/loomsdn/loom/internal/fakeswitch"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// withSwitch runs a controller with the l2 app, a fake switch connected to
// it, and the API over an in-memory connection.
func withSwitch(t *testing.T) (*grpc.ClientConn, *fakeswitch.Switch) {
	t.Helper()
	return withSwitchOpts(t, Options{})
}

// withSwitchOpts is withSwitch with the server's options.
func withSwitchOpts(t *testing.T, o Options) (*grpc.ClientConn, *fakeswitch.Switch) {
	t.Helper()
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log}, l2.New(l2.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "of.sock")
	ol, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctl.Serve(ctx, ol); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sw := fakeswitch.Start(nc, 0xc1)
	t.Cleanup(sw.Close)
	deadline := time.Now().Add(5 * time.Second)
	for sw.Table.Counts().Bundles == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	srv := NewServer(northbound.New(ctl, nil, "test"), o)
	l := bufconn.Listen(1 << 20)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, sw
}

func TestExternalFlowsAreReconciledLikeAnyApps(t *testing.T) {
	conn, _ := withSwitch(t)
	fc := pb.NewFlowServiceClient(conn)
	_, err := fc.SetFlows(ctx(t), &pb.SetFlowsRequest{Client: "guard", Dpid: 0xc1, Key: "k", Flows: []string{"table=0, priority=2000,nw_src=10.0.0.1 actions=drop"}})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "flows[0]") {
		t.Fatalf("bad flow: %v, want InvalidArgument naming flows[0]", err)
	}
	_, err = fc.SetFlows(ctx(t), &pb.SetFlowsRequest{Client: "bad name!", Dpid: 0xc1, Key: "k"})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "client") {
		t.Fatalf("bad client: %v", err)
	}
	drop := "table=0, priority=2000,in_port=3,dl_src=02:00:00:00:00:09 actions=drop"
	if _, err := fc.SetFlows(ctx(t), &pb.SetFlowsRequest{Client: "guard", Dpid: 0xc1, Key: "k", Flows: []string{drop}}); err != nil {
		t.Fatal(err)
	}
	desired, err := fc.ListFlows(ctx(t), &pb.ListFlowsRequest{Dpid: 0xc1, App: "external"})
	if err != nil || len(desired.Flows) != 1 || desired.Flows[0].Text != drop || desired.Flows[0].Key != "guard/k" {
		t.Fatalf("desired %v, %v", desired, err)
	}
	var installed *pb.ListFlowsResponse
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		installed, err = fc.ListFlows(ctx(t), &pb.ListFlowsRequest{Dpid: 0xc1, Installed: true})
		if err == nil && len(installed.Flows) == 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	found := false
	for _, f := range installed.GetFlows() {
		found = found || (f.Text == drop && f.App == "external")
	}
	if !found {
		t.Fatalf("installed %v: no external drop flow", installed)
	}
	if d, err := fc.DiffFlows(ctx(t), &pb.DiffFlowsRequest{Dpid: 0xc1}); err != nil || len(d.Changes) != 0 {
		t.Fatalf("diff after reconcile %v, %v; want none", d, err)
	}
	if _, err := fc.DeleteFlows(ctx(t), &pb.DeleteFlowsRequest{Client: "guard", Dpid: 0xc1, Key: "k"}); err != nil {
		t.Fatal(err)
	}
	// No dpid: every switch, each flow naming its own.
	all, err := fc.ListFlows(ctx(t), &pb.ListFlowsRequest{Installed: true})
	if err != nil || len(all.Flows) == 0 || all.Flows[0].Dpid != 0xc1 {
		t.Fatalf("every switch's installed flows: %v, %v", all, err)
	}
	for req, field := range map[*pb.ListFlowsRequest]string{
		{Network: "nosuch"}: "network", {Port: "nosuch"}: "port", {App: "l3"}: "app", {Dpid: 0x99}: "dpid",
	} {
		if _, err := fc.ListFlows(ctx(t), req); code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), field+": ") {
			t.Errorf("ListFlows %v: %v, want InvalidArgument naming %s", req, err, field)
		}
	}
}

func TestPacketInsReachSubscribersAndPacketOutsGoOut(t *testing.T) {
	conn, sw := withSwitch(t)
	pc := pb.NewPacketServiceClient(conn)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	stream, err := pc.WatchPacketIns(c, &pb.WatchPacketInsRequest{EthType: 0x0800})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the subscription register
	frame := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 7, 0x08, 0x00}, make([]byte, 46)...)
	sw.Send(fakeswitch.PacketIn(50, 0, 0, 4, frame))
	p, err := stream.Recv()
	if err != nil || p.Dpid != 0xc1 || p.InPort != 4 || len(p.Data) != len(frame) {
		t.Fatalf("packet-in %v, %v", p, err)
	}
	before := len(sw.PacketOuts())
	if _, err := pc.SendPacketOut(ctx(t), &pb.SendPacketOutRequest{Dpid: 0xc1, Actions: []string{"output:2"}, Data: frame}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(sw.PacketOuts()) <= before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(sw.PacketOuts()) <= before {
		t.Fatal("the packet-out never reached the switch")
	}
	for args, field := range map[*pb.SendPacketOutRequest]string{
		{Dpid: 0xc1, Actions: []string{"explode"}, Data: frame}:   "actions",
		{Dpid: 0xc1, Actions: []string{"FLOOD"}, Data: []byte{1}}: "data",
		{Dpid: 0xbad, Actions: []string{"FLOOD"}, Data: frame}:    "dpid",
	} {
		if _, err := pc.SendPacketOut(ctx(t), args); code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), field) {
			t.Errorf("%v: %v, want InvalidArgument naming %s", args, err, field)
		}
	}
}

// A request wrong in several ways names the field it named before the
// API left the runtime: who is asking (client, key) and which switch
// (dpid) before what is asked (flows, actions, data).
func TestBadRequestsNameTheSameFieldFirst(t *testing.T) {
	conn, _ := withSwitch(t)
	fc := pb.NewFlowServiceClient(conn)
	frame := make([]byte, 60)
	for req, field := range map[*pb.SetFlowsRequest]string{
		{Client: "bad name!", Dpid: 0xc1, Key: "k", Flows: []string{"not a flow"}}: "client",
		{Client: "guard", Dpid: 0xc1, Key: "", Flows: []string{"not a flow"}}:      "key",
		{Client: "guard", Dpid: 0, Key: "k", Flows: []string{"not a flow"}}:        "dpid",
		{Client: "guard", Dpid: 0xc1, Key: "k", Flows: []string{"not a flow"}}:     "flows[0]",
	} {
		_, err := fc.SetFlows(ctx(t), req)
		if code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), field+":") {
			t.Errorf("SetFlows %v: %v, want InvalidArgument naming %s", req, err, field)
		}
	}
	pc := pb.NewPacketServiceClient(conn)
	for req, field := range map[*pb.SendPacketOutRequest]string{
		{Dpid: 0xbad, Actions: []string{"explode"}, Data: frame}: "dpid",
		{Dpid: 0xbad, Actions: []string{"FLOOD"}, Data: nil}:     "dpid",
		{Dpid: 0, Actions: nil, Data: nil}:                       "dpid",
	} {
		_, err := pc.SendPacketOut(ctx(t), req)
		if code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), field+":") {
			t.Errorf("SendPacketOut %v: %v, want InvalidArgument naming %s", req, err, field)
		}
	}
}
