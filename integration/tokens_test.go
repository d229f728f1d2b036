package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loomsdn/loom/integration/harness"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

var (
	loomctlOnce sync.Once
	loomctlBin  string
	loomctlErr  error
)

// buildLoomctl builds loomctl once for the tests that drive it.
func buildLoomctl(t *testing.T) string {
	t.Helper()
	loomctlOnce.Do(func() {
		loomctlBin = filepath.Join(filepath.Dir(loomdBin), "loomctl")
		out, err := exec.Command("go", "build", "-o", loomctlBin, "github.com/loomsdn/loom/cmd/loomctl").CombinedOutput()
		if err != nil {
			loomctlErr = err
			loomctlBin = string(out)
		}
	})
	if loomctlErr != nil {
		t.Fatalf("building loomctl: %v\n%s", loomctlErr, loomctlBin)
	}
	return loomctlBin
}

func secret(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// A real loomd with three named tokens, one per scope: each may do what
// its scope allows and is refused the rest, the refusals are counted and
// logged once per client, not once per call.
func TestTokenScopesOnARealLoomd(t *testing.T) {
	t.Parallel()
	start := time.Now()
	lab, _, br, vm1, _ := oneBridgeTwoVMs(t)
	grafana, floodguard, ops := secret(t), secret(t), secret(t)
	file := filepath.Join(lab.Dir(), "tokens")
	if err := os.WriteFile(file, []byte("# NAME SCOPE TOKEN\n"+
		"grafana read "+grafana+"\n"+
		"floodguard app "+floodguard+"  # the example app\n\n"+
		"ops operator "+ops+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := attachLoom(t, lab, br, "--grpc-token-file", file)
	if !strings.Contains(l.proc.Log(), "token_scopes=\"grafana:read,floodguard:app,ops:operator\"") {
		t.Errorf("loomd does not log its tokens' names and scopes:\n%s", l.proc.Log())
	}
	for _, s := range []string{grafana, floodguard, ops} {
		if strings.Contains(l.proc.Log(), s) {
			t.Fatal("loomd logged a token's secret")
		}
	}
	conn, ctx := l.api(t)
	as := func(secret string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+secret)
	}
	cc, tc := pb.NewControllerServiceClient(conn), pb.NewTopologyServiceClient(conn)
	fc, nc := pb.NewFlowServiceClient(conn), pb.NewNetworkServiceClient(conn)
	want := func(what string, err error, c codes.Code, text string) {
		t.Helper()
		if status.Code(err) != c || !strings.Contains(status.Convert(err).Message(), text) {
			t.Errorf("%s: %v, want %v containing %q", what, err, c, text)
		}
	}

	// No token, a wrong one: Unauthenticated.
	_, err := cc.GetStatus(ctx, &pb.GetStatusRequest{})
	want("GetStatus without a token", err, codes.Unauthenticated, "missing bearer token")
	_, err = cc.GetStatus(as(grafana+"x"), &pb.GetStatusRequest{})
	want("GetStatus with a wrong token", err, codes.Unauthenticated, "wrong bearer token")

	// read: looks, changes nothing.
	if st, err := cc.GetStatus(as(grafana), &pb.GetStatusRequest{}); err != nil || len(st.Switches) != 1 {
		t.Fatalf("GetStatus with the read token: %v, %v", st, err)
	}
	if _, err := tc.ListSwitches(as(grafana), &pb.ListSwitchesRequest{}); err != nil {
		t.Fatalf("ListSwitches with the read token: %v", err)
	}
	if _, err := fc.ListFlows(as(grafana), &pb.ListFlowsRequest{Dpid: br.DPID}); err != nil {
		t.Fatalf("ListFlows with the read token: %v", err)
	}
	_, err = nc.AddNetwork(as(grafana), &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10, Ports: []string{vm1.Port}}})
	want("AddNetwork with the read token", err, codes.PermissionDenied, "needs scope operator")
	drop := "table=0, priority=2000,in_port=3,dl_src=02:00:00:00:00:09 actions=drop"
	_, err = fc.SetFlows(as(grafana), &pb.SetFlowsRequest{Client: "grafana", Dpid: br.DPID, Key: "k", Flows: []string{drop}})
	want("SetFlows with the read token", err, codes.PermissionDenied, "needs scope app")
	_, err = cc.Reload(as(grafana), &pb.ReloadRequest{})
	want("Reload with the read token", err, codes.PermissionDenied, "needs scope operator")

	// app: its own flows (they reach the switch), packet-ins; nothing else.
	if _, err := fc.SetFlows(as(floodguard), &pb.SetFlowsRequest{Client: "floodguard", Dpid: br.DPID, Key: "k", Flows: []string{drop}}); err != nil {
		t.Fatalf("SetFlows of its own with the app token: %v", err)
	}
	waitFor(t, "the app token's flow on the bridge", 10*time.Second, func() bool {
		flows, _ := br.DumpFlows()
		return strings.Contains(strings.Join(flows, "\n"), "dl_src=02:00:00:00:00:09")
	})
	_, err = fc.SetFlows(as(floodguard), &pb.SetFlowsRequest{Client: "billing", Dpid: br.DPID, Key: "k", Flows: []string{drop}})
	want("SetFlows of another client with the app token", err, codes.PermissionDenied, `client must be "floodguard"`)
	_, err = nc.AddNetwork(as(floodguard), &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10, Ports: []string{vm1.Port}}})
	want("AddNetwork with the app token", err, codes.PermissionDenied, "needs scope operator")
	wctx, cancel := context.WithTimeout(as(floodguard), 500*time.Millisecond)
	stream, err := pb.NewPacketServiceClient(conn).WatchPacketIns(wctx, &pb.WatchPacketInsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	cancel()
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.OK {
		t.Errorf("WatchPacketIns with the app token: %v, want it served", err)
	}
	if _, err := fc.DeleteFlows(as(floodguard), &pb.DeleteFlowsRequest{Client: "floodguard", Dpid: br.DPID, Key: "k"}); err != nil {
		t.Fatalf("DeleteFlows of its own with the app token: %v", err)
	}

	// operator: everything, any client's flows.
	if _, err := nc.AddNetwork(as(ops), &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10, Ports: []string{vm1.Port}}}); err != nil {
		t.Fatalf("AddNetwork with the operator token: %v", err)
	}
	if list, err := nc.ListNetworks(as(grafana), &pb.ListNetworksRequest{}); err != nil || len(list.Networks) != 1 {
		t.Fatalf("ListNetworks after the operator's AddNetwork: %v, %v", list, err)
	}
	if _, err := fc.SetFlows(as(ops), &pb.SetFlowsRequest{Client: "billing", Dpid: br.DPID, Key: "k", Flows: []string{drop}}); err != nil {
		t.Fatalf("SetFlows of any client with the operator token: %v", err)
	}

	// loomctl with LOOM_TOKEN: served, or the refusal said plainly.
	ctl := buildLoomctl(t)
	addr := logAddr(t, l.proc.Log(), reGRPCAddr)
	loomctl := func(token string, args ...string) (string, error) {
		cmd := exec.Command(ctl, append([]string{"--server", addr}, args...)...)
		cmd.Env = append(os.Environ(), "LOOM_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := loomctl(grafana, "status"); err != nil {
		t.Fatalf("loomctl status with the read token: %v\n%s", err, out)
	}
	out, err := loomctl(grafana, "net", "add", "red", "--vlan", "20")
	if err == nil || !strings.Contains(out, "PermissionDenied") || !strings.Contains(out, "needs scope operator") {
		t.Fatalf("loomctl net add with the read token: %v\n%s\nwant a failure saying PermissionDenied and the scope", err, out)
	}
	out, err = loomctl("guess", "status")
	if err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Fatalf("loomctl status with a wrong token: %v\n%s", err, out)
	}

	// A client hammering with a wrong token is counted every time and
	// logged once a minute.
	for i := 0; i < 100; i++ {
		cc.GetStatus(as("guess"), &pb.GetStatusRequest{})
	}
	resp, err := http.Get("http://" + logAddr(t, l.proc.Log(), reMetricsAddr) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if v := metric(t, string(body), `loom_grpc_refused_total{reason="wrong_token"}`); v < 102 {
		t.Errorf("wrong_token refusals counted %v, want at least 102", v)
	}
	if v := metric(t, string(body), `loom_grpc_refused_total{reason="missing_token"}`); v != 1 {
		t.Errorf("missing_token refusals counted %v, want 1", v)
	}
	if v := metric(t, string(body), `loom_grpc_refused_total{reason="scope"}`); v != 5 {
		t.Errorf("scope refusals counted %v, want 5", v)
	}
	if v := metric(t, string(body), `loom_grpc_refused_total{reason="foreign_client"}`); v != 1 {
		t.Errorf("foreign_client refusals counted %v, want 1", v)
	}
	// Three clients were refused: this host without a valid token, and
	// the read and app tokens. Each is logged once a minute at most.
	perClient := map[string]int{}
	for _, line := range strings.Split(l.proc.Log(), "\n") {
		if !strings.Contains(line, "API call refused") {
			continue
		}
		client := "anonymous"
		for _, name := range []string{"grafana", "floodguard", "ops"} {
			if strings.Contains(line, "token="+name) {
				client = name
			}
		}
		perClient[client]++
	}
	limit := 1 + int(time.Since(start)/time.Minute)
	if len(perClient) != 3 || perClient["ops"] != 0 {
		t.Errorf("refused clients logged: %v, want anonymous, grafana and floodguard", perClient)
	}
	for c, n := range perClient {
		if n > limit {
			t.Errorf("client %s logged %d times in %v, want at most %d", c, n, time.Since(start).Round(time.Second), limit)
		}
	}
}

// loomd refuses to start with a writable API in clear on an address
// other hosts can reach, or with a token file without tokens, before it
// listens on anything.
func TestTokenStartupRefusals(t *testing.T) {
	t.Parallel()
	harness.Require(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, loomdBin, append([]string{"--db", filepath.Join(dir, "loom.db"),
			"--openflow-listen", "unix:" + filepath.Join(dir, "of.sock"), "--metrics-listen", ""}, args...)...)
		cmd.Env = append(os.Environ(), "LOOM_TOKEN=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// 192.0.2.10 (TEST-NET-1) is not on this host: were the check gone,
	// loomd would fail to listen there rather than serve.
	out, err := run("--grpc-listen", "192.0.2.10:9652")
	if err == nil || !strings.Contains(out, "--grpc-insecure") || !strings.Contains(out, "is not a loopback address") {
		t.Fatalf("an open API on a network address: %v\n%s\nwant a refusal naming --grpc-insecure", err, out)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("ops operator "+secret(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run("--grpc-listen", "192.0.2.10:9652", "--grpc-token-file", tokens)
	if err == nil || !strings.Contains(out, `token "ops" (scope operator) would cross the network in clear`) {
		t.Fatalf("an operator token in clear on a network address: %v\n%s", err, out)
	}
	if err := os.WriteFile(tokens, []byte("\n# no tokens yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run("--grpc-listen", "127.0.0.1:0", "--grpc-token-file", tokens)
	if err == nil || !strings.Contains(out, "holds no token") {
		t.Fatalf("a token file without tokens: %v\n%s", err, out)
	}
}
