package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/northbound"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

type rig struct {
	top  *topology.Topology
	conn *grpc.ClientConn
	api  *northbound.API
}

// serve runs the API over an in-memory listener with o and dials it with
// the given client options.
func serve(t *testing.T, o Options, dial ...grpc.DialOption) *rig {
	t.Helper()
	log, _ := test.NewNullLogger()
	top := topology.New()
	ctl, err := controller.New(controller.Config{Log: log, Topology: top})
	if err != nil {
		t.Fatal(err)
	}
	a := northbound.New(ctl, nil, "test")
	srv := NewServer(a, o)
	l := bufconn.Listen(1 << 20)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	dial = append(dial, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rig{top: top, conn: conn, api: a}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func code(err error) codes.Code { return status.Code(err) }

func TestListsAndStatus(t *testing.T) {
	r := serve(t, Options{})
	r.top.SwitchConnected(0xc1, "192.0.2.10:40000", []topology.OFPort{{No: 1, Name: "centos01_port1", Up: true}})
	r.top.SetLink(topology.NewLink(topology.Endpoint{DPID: 0xa1, Port: 3}, topology.Endpoint{DPID: 0xc1, Port: 2}), true)
	tc := pb.NewTopologyServiceClient(r.conn)
	sw, err := tc.ListSwitches(ctx(t), &pb.ListSwitchesRequest{})
	if err != nil || len(sw.Switches) != 1 || sw.Switches[0].Dpid != 0xc1 || !sw.Switches[0].Connected || sw.Revision != 2 {
		t.Fatalf("switches %v, %v", sw, err)
	}
	ports, err := tc.ListPorts(ctx(t), &pb.ListPortsRequest{Dpid: 0xc1})
	if err != nil || len(ports.Ports) != 1 || ports.Ports[0].Name != "centos01_port1" {
		t.Fatalf("ports %v, %v", ports, err)
	}
	links, err := tc.ListLinks(ctx(t), &pb.ListLinksRequest{})
	if err != nil || len(links.Links) != 1 || links.Links[0].A.Dpid != 0xa1 {
		t.Fatalf("links %v, %v", links, err)
	}
	st, err := pb.NewControllerServiceClient(r.conn).GetStatus(ctx(t), &pb.GetStatusRequest{})
	if err != nil || st.Version != "test" || !st.Healthy || len(st.Switches) != 1 {
		t.Fatalf("status %v, %v", st, err)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	r := serve(t, Options{})
	tc := pb.NewTopologyServiceClient(r.conn)
	_, err := tc.ListPorts(ctx(t), &pb.ListPortsRequest{Dpid: 0xdead})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "dpid") {
		t.Fatalf("got %v, want InvalidArgument naming dpid", err)
	}
	stream, err := tc.WatchTopology(ctx(t), &pb.WatchTopologyRequest{FromRevision: 99})
	if err == nil {
		_, err = stream.Recv()
	}
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "from_revision") {
		t.Fatalf("got %v, want InvalidArgument naming from_revision", err)
	}
}

func TestWatchResumesWithoutGapsOrRepeats(t *testing.T) {
	r := serve(t, Options{})
	tc := pb.NewTopologyServiceClient(r.conn)
	r.top.SwitchConnected(1, "r", nil)
	list, _ := tc.ListSwitches(ctx(t), &pb.ListSwitchesRequest{})
	c, cancel := context.WithCancel(ctx(t))
	stream, err := tc.WatchTopology(c, &pb.WatchTopologyRequest{FromRevision: list.Revision})
	if err != nil {
		t.Fatal(err)
	}
	r.top.SwitchConnected(2, "r", nil)
	r.top.SwitchConnected(3, "r", nil)
	var last uint64
	for want := list.Revision + 1; want <= list.Revision+2; want++ {
		e, err := stream.Recv()
		if err != nil || e.Revision != want {
			t.Fatalf("event %v, %v; want revision %d", e, err, want)
		}
		last = e.Revision
	}
	cancel()                           // the client goes away...
	r.top.SwitchConnected(4, "r", nil) // ...misses this...
	r.top.SwitchConnected(5, "r", nil)
	// ...and resumes from the last revision it saw.
	stream, err = tc.WatchTopology(ctx(t), &pb.WatchTopologyRequest{FromRevision: last})
	if err != nil {
		t.Fatal(err)
	}
	for want := last + 1; want <= last+2; want++ {
		e, err := stream.Recv()
		if err != nil || e.Revision != want || e.GetSwitch() == nil {
			t.Fatalf("resumed event %v, %v; want revision %d", e, err, want)
		}
	}
}

func TestTokenIsRequired(t *testing.T) {
	r := serve(t, Options{Token: "s3cret"})
	cc := pb.NewControllerServiceClient(r.conn)
	if _, err := cc.GetStatus(ctx(t), &pb.GetStatusRequest{}); code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v, want Unauthenticated", err)
	}
	bad := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer wrong")
	if _, err := cc.GetStatus(bad, &pb.GetStatusRequest{}); code(err) != codes.Unauthenticated {
		t.Fatalf("wrong token: %v, want Unauthenticated", err)
	}
	good := metadata.AppendToOutgoingContext(ctx(t), "authorization", "Bearer s3cret")
	if _, err := cc.GetStatus(good, &pb.GetStatusRequest{}); err != nil {
		t.Fatalf("right token: %v", err)
	}
	// Streams too.
	stream, err := pb.NewTopologyServiceClient(r.conn).WatchTopology(ctx(t), &pb.WatchTopologyRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if code(err) != codes.Unauthenticated {
		t.Fatalf("stream without token: %v", err)
	}
}

func TestOversizedRequestIsRefusedAndServerStaysUp(t *testing.T) {
	r := serve(t, Options{MaxMessageBytes: 1024})
	huge := &pb.Host{Mac: strings.Repeat("x", 64<<10)} // wire-compatible junk, 64 KiB
	err := r.conn.Invoke(ctx(t), "/loom.v1.TopologyService/ListPorts", huge, &pb.ListPortsResponse{})
	if code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized request: %v, want ResourceExhausted", err)
	}
	if _, err := pb.NewControllerServiceClient(r.conn).GetStatus(ctx(t), &pb.GetStatusRequest{}); err != nil {
		t.Fatalf("server unhealthy after an oversized request: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	ca, caKey := newCA(t)
	serverCert := issue(t, ca, caKey, "localhost", x509.ExtKeyUsageServerAuth)
	clientCert := issue(t, ca, caKey, "loomctl", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	srvTLS := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}

	withCert := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{clientCert}})
	r := serve(t, Options{TLS: srvTLS}, grpc.WithTransportCredentials(withCert))
	if _, err := pb.NewControllerServiceClient(r.conn).GetStatus(ctx(t), &pb.GetStatusRequest{}); err != nil {
		t.Fatalf("client with a certificate: %v", err)
	}
	noCert := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})
	r = serve(t, Options{TLS: srvTLS}, grpc.WithTransportCredentials(noCert))
	if _, err := pb.NewControllerServiceClient(r.conn).GetStatus(ctx(t), &pb.GetStatusRequest{}); err == nil {
		t.Fatal("client without a certificate was served")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loom test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, usage x509.ExtKeyUsage) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Many streams share each event's wire form (converted once): every one
// gets every event, in order, and the race detector sees no sharing gone
// wrong.
func TestManyWatchersShareEvents(t *testing.T) {
	r := serve(t, Options{})
	tc := pb.NewTopologyServiceClient(r.conn)
	const streams, switches = 20, 30
	var got [streams]chan []uint64
	for i := range got {
		stream, err := tc.WatchTopology(ctx(t), &pb.WatchTopologyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got[i] = make(chan []uint64, 1)
		go func(out chan<- []uint64) {
			var revs []uint64
			for len(revs) < switches*2 { // a switch and its one port each
				e, err := stream.Recv()
				if err != nil {
					break
				}
				revs = append(revs, e.Revision)
			}
			out <- revs
		}(got[i])
	}
	time.Sleep(100 * time.Millisecond) // every stream open before the first commit
	for d := uint64(1); d <= switches; d++ {
		r.top.SwitchConnected(d, "r", []topology.OFPort{{No: 1, Name: "p1", Up: true}})
	}
	for i, ch := range got {
		revs := <-ch
		if len(revs) != switches*2 {
			t.Fatalf("stream %d got %d events, want %d", i, len(revs), switches*2)
		}
		for j := 1; j < len(revs); j++ {
			if revs[j] < revs[j-1] {
				t.Fatalf("stream %d: revision %d after %d", i, revs[j], revs[j-1])
			}
		}
	}
}
