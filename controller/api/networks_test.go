package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/northbound"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// fileSpec is what the config file declares in these tests.
var fileSpec = network.Spec{
	Networks: []network.Network{{Name: "web", VLAN: 10, VNI: 1010, Ports: []string{"web-*"}}},
	Trunks:   []network.Trunk{{Port: "uplink", VLANs: []int{10}}},
	ACLs:     []network.Rule{{Name: "web-http", Network: "web", Proto: "tcp", DstPort: "80", Action: "allow"}},
}

// serveNetworks runs the API of a controller whose config file declares
// fileSpec; reload, when set, is its config reload.
func serveNetworks(t *testing.T, reload func() (network.Spec, error)) *grpc.ClientConn {
	t.Helper()
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	pol := policy.New(ctl, policy.Options{Policy: network.NewHolder(nil), File: fileSpec, Reload: reload})
	if err := pol.Restore(); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(northbound.New(ctl, pol, "test"), Options{})
	l := bufconn.Listen(1 << 20)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func networkNames(t *testing.T, c pb.NetworkServiceClient) string {
	t.Helper()
	r, err := c.ListNetworks(ctx(t), &pb.ListNetworksRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range r.Networks {
		out = append(out, n.Name+"/"+n.Source)
	}
	return strings.Join(out, " ")
}

func aclNames(t *testing.T, c pb.NetworkServiceClient) string {
	t.Helper()
	r, err := c.ListACLs(ctx(t), &pb.ListACLsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range r.Rules {
		out = append(out, x.Name+"/"+x.Source)
	}
	return strings.Join(out, " ")
}

func TestNetworkAddListDelete(t *testing.T) {
	c := pb.NewNetworkServiceClient(serveNetworks(t, nil))
	if got := networkNames(t, c); got != "web/file" {
		t.Fatalf("networks %q", got)
	}
	want := &pb.Network{Name: "db", Vlan: 20, Vni: 1020, Ports: []string{"db-*"}, IfaceIds: []string{"if-1"}, VmIds: []string{"vm-1"},
		DefaultPolicy: "deny", Stateful: true}
	if _, err := c.AddNetwork(ctx(t), &pb.AddNetworkRequest{Network: want}); err != nil {
		t.Fatal(err)
	}
	r, err := c.ListNetworks(ctx(t), &pb.ListNetworksRequest{})
	if err != nil || len(r.Networks) != 2 {
		t.Fatalf("networks %v, %v", r, err)
	}
	got := r.Networks[1]
	if got.Name != "db" || got.Vlan != 20 || got.Vni != 1020 || got.Ports[0] != "db-*" || got.IfaceIds[0] != "if-1" ||
		got.VmIds[0] != "vm-1" || got.DefaultPolicy != "deny" || !got.Stateful || got.Source != "api" {
		t.Fatalf("added network reads back as %v", got)
	}
	// A name taken, by the file or the API.
	for _, name := range []string{"web", "db"} {
		_, err := c.AddNetwork(ctx(t), &pb.AddNetworkRequest{Network: &pb.Network{Name: name, Vlan: 30}})
		if code(err) != codes.AlreadyExists {
			t.Errorf("adding %s again: %v, want AlreadyExists", name, err)
		}
	}
	if _, err := c.DeleteNetwork(ctx(t), &pb.DeleteNetworkRequest{Name: "db"}); err != nil {
		t.Fatal(err)
	}
	if got := networkNames(t, c); got != "web/file" {
		t.Fatalf("after delete: %q", got)
	}
	if _, err := c.DeleteNetwork(ctx(t), &pb.DeleteNetworkRequest{Name: "db"}); code(err) != codes.NotFound {
		t.Fatalf("deleting a missing network: %v, want NotFound", err)
	}
}

func TestTrunkAddListDelete(t *testing.T) {
	c := pb.NewNetworkServiceClient(serveNetworks(t, nil))
	if _, err := c.AddNetwork(ctx(t), &pb.AddNetworkRequest{Network: &pb.Network{Name: "db", Vlan: 20}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTrunk(ctx(t), &pb.AddTrunkRequest{Trunk: &pb.Trunk{Port: "bond0", Vlans: []uint32{20}, Native: 10}}); err != nil {
		t.Fatal(err)
	}
	r, err := c.ListTrunks(ctx(t), &pb.ListTrunksRequest{})
	if err != nil || len(r.Trunks) != 2 || r.Trunks[0].Source != "file" || r.Trunks[1].Port != "bond0" || r.Trunks[1].Native != 10 ||
		len(r.Trunks[1].Vlans) != 1 || r.Trunks[1].Source != "api" {
		t.Fatalf("trunks %v, %v", r, err)
	}
	if _, err := c.AddTrunk(ctx(t), &pb.AddTrunkRequest{Trunk: &pb.Trunk{Port: "uplink", Vlans: []uint32{20}}}); code(err) != codes.AlreadyExists {
		t.Fatalf("adding the file's trunk: %v, want AlreadyExists", err)
	}
	// The API's trunk still carries db: deleting db would break it.
	_, err = c.DeleteNetwork(ctx(t), &pb.DeleteNetworkRequest{Name: "db"})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "trunks[1].vlans[0]") {
		t.Fatalf("deleting a network a trunk carries: %v, want FailedPrecondition naming trunks[1].vlans[0]", err)
	}
	if _, err := c.DeleteTrunk(ctx(t), &pb.DeleteTrunkRequest{Port: "uplink"}); code(err) != codes.FailedPrecondition {
		t.Fatalf("deleting the file's trunk: %v, want FailedPrecondition", err)
	}
	if _, err := c.DeleteTrunk(ctx(t), &pb.DeleteTrunkRequest{Port: "bond0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteNetwork(ctx(t), &pb.DeleteNetworkRequest{Name: "db"}); err != nil {
		t.Fatal(err)
	}
}

func TestACLAddListDelete(t *testing.T) {
	c := pb.NewNetworkServiceClient(serveNetworks(t, nil))
	icmp := uint32(8)
	rules := []*pb.ACLRule{
		{Name: "ssh", Network: "web", Proto: "tcp", DstPort: "22", Src: "10.0.0.0/24", Action: "allow"},
		{Name: "ping", Vlan: 10, Proto: "icmp", IcmpType: &icmp, Action: "allow"},
	}
	for _, r := range rules {
		if _, err := c.AddACL(ctx(t), &pb.AddACLRequest{Rule: r}); err != nil {
			t.Fatalf("adding %s: %v", r.Name, err)
		}
	}
	if got := aclNames(t, c); got != "web-http/file ssh/api ping/api" {
		t.Fatalf("rules %q", got)
	}
	r, err := c.ListACLs(ctx(t), &pb.ListACLsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Rules[2]; p.IcmpType == nil || *p.IcmpType != 8 || p.IcmpCode != nil || p.Vlan != 10 || p.Packets != 0 {
		t.Fatalf("ping reads back as %v", p)
	}
	if s := r.Rules[1]; s.Src != "10.0.0.0/24" || s.DstPort != "22" || s.Proto != "tcp" || s.Action != "allow" {
		t.Fatalf("ssh reads back as %v", s)
	}
	if _, err := c.AddACL(ctx(t), &pb.AddACLRequest{Rule: &pb.ACLRule{Name: "web-http", Network: "web", Action: "deny"}}); code(err) != codes.AlreadyExists {
		t.Fatalf("adding the file's rule name: %v, want AlreadyExists", err)
	}
	if _, err := c.DeleteACL(ctx(t), &pb.DeleteACLRequest{Name: "ssh"}); err != nil {
		t.Fatal(err)
	}
	if got := aclNames(t, c); got != "web-http/file ping/api" {
		t.Fatalf("after delete: %q", got)
	}
	if _, err := c.DeleteACL(ctx(t), &pb.DeleteACLRequest{Name: "ssh"}); code(err) != codes.NotFound {
		t.Fatalf("deleting a missing rule: %v, want NotFound", err)
	}
	// The API's rule applies to web: the file's network cannot go, and
	// neither can the file's rule through the API.
	_, err = c.DeleteACL(ctx(t), &pb.DeleteACLRequest{Name: "web-http"})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("deleting the file's rule: %v, want FailedPrecondition naming the config file", err)
	}
	if _, err := c.DeleteNetwork(ctx(t), &pb.DeleteNetworkRequest{Name: "web"}); code(err) != codes.FailedPrecondition {
		t.Fatalf("deleting the file's network: %v, want FailedPrecondition", err)
	}
}

func TestBadDeclarationsNameTheField(t *testing.T) {
	c := pb.NewNetworkServiceClient(serveNetworks(t, nil))
	for _, tc := range []struct {
		rule *pb.ACLRule
		want string
	}{
		{&pb.ACLRule{Name: "x", Network: "web", Src: "10.0.0.0/33", Action: "allow"}, `acls[1].src: rule "x": `},
		{&pb.ACLRule{Name: "x", Network: "web", Proto: "tcp", DstPort: "70000", Action: "allow"}, `acls[1].dst_port: rule "x": "70000": ports are 1-65535`},
		{&pb.ACLRule{Name: "x", Vlan: 99, Action: "deny"}, `acls[1].vlan: rule "x": VLAN 99 is not any network's (unknown VLAN)`},
		{&pb.ACLRule{Name: "x", Network: "web", Action: "drop"}, `acls[1].action: rule "x": "drop" is not allow or deny`},
		{&pb.ACLRule{Name: "bad name", Network: "web", Action: "deny"}, `acls[1].name: `},
	} {
		_, err := c.AddACL(ctx(t), &pb.AddACLRequest{Rule: tc.rule})
		if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("adding %v: %v, want InvalidArgument containing %q", tc.rule, err, tc.want)
		}
	}
	_, err := c.AddNetwork(ctx(t), &pb.AddNetworkRequest{Network: &pb.Network{Name: "dup", Vlan: 10}})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "networks[1].vlan: ") {
		t.Errorf("a network on the file's VLAN: %v, want InvalidArgument naming networks[1].vlan", err)
	}
	_, err = c.AddTrunk(ctx(t), &pb.AddTrunkRequest{Trunk: &pb.Trunk{Port: "bond0", Vlans: []uint32{10, 77}}})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "trunks[1].vlans[1]: ") || !strings.Contains(err.Error(), "unknown VLAN") {
		t.Errorf("a trunk with an unknown VLAN: %v, want InvalidArgument naming trunks[1].vlans[1]", err)
	}
	if _, err := c.AddNetwork(ctx(t), &pb.AddNetworkRequest{}); code(err) != codes.InvalidArgument {
		t.Errorf("no network: %v, want InvalidArgument", err)
	}
	// Nothing was applied.
	if got := aclNames(t, c); got != "web-http/file" {
		t.Fatalf("rules after rejected adds: %q", got)
	}
	if got := networkNames(t, c); got != "web/file" {
		t.Fatalf("networks after rejected adds: %q", got)
	}
}

func TestReloadAndPlan(t *testing.T) {
	cc := pb.NewControllerServiceClient(serveNetworks(t, nil))
	if _, err := cc.Reload(ctx(t), &pb.ReloadRequest{}); code(err) != codes.FailedPrecondition {
		t.Fatalf("reload without a config file: %v, want FailedPrecondition", err)
	}
	// Plan validates the whole file and names the wrong field.
	bad := "networks:\n  - name: web\n    vlan: 10\nacls:\n  - name: x\n    network: web\n    proto: tcp\n    dst_port: \"70000\"\n    action: allow\n"
	_, err := cc.Plan(ctx(t), &pb.PlanRequest{Config: []byte(bad)})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "acls[0].dst_port") {
		t.Fatalf("plan of a bad file: %v, want InvalidArgument naming acls[0].dst_port", err)
	}
	if _, err := cc.Plan(ctx(t), &pb.PlanRequest{Config: []byte("networks: [\n")}); code(err) != codes.InvalidArgument {
		t.Fatalf("plan of unparsable YAML: %v, want InvalidArgument", err)
	}
	good := "networks:\n  - name: web\n    vlan: 10\n  - name: db\n    vlan: 20\n"
	r, err := cc.Plan(ctx(t), &pb.PlanRequest{Config: []byte(good)})
	if err != nil || len(r.Switches) != 0 {
		t.Fatalf("plan with no switch connected: %v, %v", r, err)
	}

	reloaded := network.Spec{Networks: []network.Network{{Name: "db", VLAN: 20}}}
	conn := serveNetworks(t, func() (network.Spec, error) { return reloaded, nil })
	if _, err := pb.NewControllerServiceClient(conn).Reload(ctx(t), &pb.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := networkNames(t, pb.NewNetworkServiceClient(conn)); got != "db/file" {
		t.Fatalf("networks after reload: %q", got)
	}
}

// A reload loomd cannot do for want of file descriptors is Unavailable
// (try again), not FailedPrecondition (the file is wrong); a bad file is
// still FailedPrecondition.
func TestReloadOutOfDescriptorsIsUnavailable(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want codes.Code
	}{
		"out of fds": {fmt.Errorf("config: %w", &fs.PathError{Op: "open", Path: "/etc/loom/loom.yaml", Err: syscall.EMFILE}), codes.Unavailable},
		"bad file":   {errors.New("config /etc/loom/loom.yaml: line 3: unknown key"), codes.FailedPrecondition},
	} {
		t.Run(name, func(t *testing.T) {
			conn := serveNetworks(t, func() (network.Spec, error) { return network.Spec{}, tc.err })
			_, err := pb.NewControllerServiceClient(conn).Reload(ctx(t), &pb.ReloadRequest{})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("reload answered %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
