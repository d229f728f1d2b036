package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

var (
	reMetricsAddr = regexp.MustCompile(`msg="serving /metrics and /healthz" metrics="?([0-9.:]+)`)
	reGRPCAddr    = regexp.MustCompile(`grpc="?([0-9.:]+)"? msg="serving the gRPC API"|msg="serving the gRPC API" grpc="?([0-9.:]+)`)
)

func logAddr(t *testing.T, log string, re *regexp.Regexp) string {
	t.Helper()
	m := re.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("address not in loomd's log:\n%s", log)
	}
	for _, g := range m[1:] {
		if g != "" {
			return g
		}
	}
	return ""
}

func metric(t *testing.T, body, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("metric %s not exposed", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestLoomdServesAPIAndMetrics(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)

	// The gRPC API lists what OVS itself shows.
	conn, ctx := l.api(t)
	tc := pb.NewTopologyServiceClient(conn)
	ports, err := tc.ListPorts(ctx, &pb.ListPortsRequest{Dpid: br.DPID})
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range []struct{ port string }{{vm1.Port}, {vm2.Port}} {
		ofp, _ := hv.OfPort(vm.port)
		found := false
		for _, p := range ports.Ports {
			found = found || (p.Name == vm.port && int(p.No) == ofp)
		}
		if !found {
			t.Errorf("port %s (ofport %d per ovs-vsctl) not listed: %v", vm.port, ofp, ports.Ports)
		}
	}
	st, err := pb.NewControllerServiceClient(conn).GetStatus(ctx, &pb.GetStatusRequest{})
	if err != nil || len(st.Switches) != 1 || !st.Switches[0].Connected || st.Counters.PacketIns == 0 {
		t.Fatalf("status %v, %v", st, err)
	}

	// Prometheus metrics and the health check.
	base := "http://" + logAddr(t, l.proc.Log(), reMetricsAddr)
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	_, body := get("/metrics")
	if v := metric(t, body, "loom_switches_connected"); v != 1 {
		t.Errorf("loom_switches_connected %v, want 1", v)
	}
	if v := metric(t, body, "loom_packet_ins_total"); v < 2 {
		t.Errorf("loom_packet_ins_total %v after a ping, want at least 2", v)
	}
	if v := metric(t, body, "loom_session_panics_total"); v != 0 {
		t.Errorf("loom_session_panics_total %v, want 0", v)
	}
	if v := metric(t, body, "loom_topology_watchers_behind_total"); v != 0 {
		t.Errorf("loom_topology_watchers_behind_total %v with no slow subscriber, want 0", v)
	}
	if v := metric(t, body, "loom_flow_mods_total"); v < 4 {
		t.Errorf("loom_flow_mods_total %v, want at least the table-miss and learned flows", v)
	}
	if !strings.Contains(body, `loom_desired_flows{app="l2"}`) || !strings.Contains(body, `loom_grpc_requests_total{code="OK",method="/loom.v1.TopologyService/ListPorts"} 1`) {
		t.Errorf("per-app flow counts or gRPC request metrics missing:\n%s", body)
	}
	if code, _ := get("/debug/pprof/"); code != 404 {
		t.Errorf("pprof served without --pprof: %d", code)
	}
}

func TestExampleAppsFlowIsAppliedAndSurvivesRestart(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)
	l.waitPersisted(t)
	guard := lab.Start("floodguard", "", nil, floodguardBin, "--server", logAddr(t, l.proc.Log(), reGRPCAddr), "--threshold", "5", "--window", "1m")
	waitFor(t, "floodguard watching", 10*time.Second, func() bool { return strings.Contains(guard.Log(), "watching packet-ins") })

	// vm2 claims vm1's MAC: Loom's learning switch refuses every such frame
	// at the controller, so each one is a packet-in floodguard counts.
	mac1 := strings.ReplaceAll(vm1.MAC, ":", "")
	frame := "ffffffffffff" + mac1 + "0800" + strings.Repeat("00", 46)
	for i := 0; i < 10; i++ {
		if out, err := vm2.Exec(rawframeBin, "send", "eth1", frame); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	port2 := ofport(t, hv, vm2.Port)
	drop := fmt.Sprintf("priority=2000,in_port=%d,dl_src=%s actions=drop", port2, vm1.MAC)
	hasDrop := func() bool {
		flows, _ := br.DumpFlows()
		for _, f := range flows {
			if strings.Contains(f, drop) && strings.Contains(f, "cookie=0x4c4dc8") { // app id 200: external apps
				return true
			}
		}
		return false
	}
	waitFor(t, "floodguard's drop flow on the switch", 10*time.Second, hasDrop)
	guard.Stop() // from here on nobody re-declares it

	l.proc.Kill9()
	waitFor(t, "OVS to notice loomd is gone", 15*time.Second, func() bool { return !br.IsConnected() })
	l.start(t)
	waitFor(t, "the restarted loomd to reconcile", 20*time.Second, func() bool { return strings.Contains(l.proc.Log(), "switch connected") })
	if !strings.Contains(l.proc.Log(), "flow_mods=0") {
		t.Errorf("the restart changed flows:\n%s", tailLines(l.proc.Log(), 5))
	}
	if !hasDrop() {
		t.Fatal("the external app's flow did not survive the restart")
	}
	// And the API files it under the external app.
	conn, ctx := l.api(t)
	r, err := pb.NewFlowServiceClient(conn).ListFlows(ctx, &pb.ListFlowsRequest{Dpid: br.DPID, App: "external"})
	if err != nil || len(r.Flows) != 1 || !strings.HasPrefix(r.Flows[0].Key, "floodguard/drop/") {
		t.Fatalf("external flows %v, %v", r, err)
	}
}

// api connects to loomd's gRPC API (its address from the log) and returns
// the connection and a request context, both cleaned up with the test.
func (l *loomd) api(t *testing.T) (*grpc.ClientConn, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(logAddr(t, l.proc.Log(), reGRPCAddr), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return conn, ctx
}
