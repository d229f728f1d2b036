package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Health follows the switches: healthy while connected; a switch that
// leaves is a named condition in status and /healthz (503); forgetting a
// connected switch is refused; once forgotten (by hand or by age) it is
// gone from the topology and its desired flows with it, and loomd is
// healthy again.
func TestHealthFollowsSwitchesAndForgetDropsThem(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", hypervisorConfig(hv)+"openflow:\n  forget_after: 3s\n")
	l := attachLoom(t, lab, br, "--config", cfg)
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	conn, ctx := l.api(t)
	cc := pb.NewControllerServiceClient(conn)
	fc := pb.NewFlowServiceClient(conn)
	tc := pb.NewTopologyServiceClient(conn)
	healthz := "http://" + logAddr(t, l.proc.Log(), reMetricsAddr) + "/healthz"

	waitFor(t, "healthy with the switch connected", 10*time.Second, func() bool {
		st, err := cc.GetStatus(ctx, &pb.GetStatusRequest{})
		return err == nil && st.Healthy && len(st.Conditions) == 0
	})
	if code, body := get(t, healthz); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz with everything up: %d %q", code, body)
	}
	_, err := cc.ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: br.DPID})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forgetting a connected switch: %v, want FailedPrecondition", err)
	}

	br.DelController()
	var st *pb.GetStatusResponse
	waitFor(t, "a condition naming the switch", 10*time.Second, func() bool {
		st, err = cc.GetStatus(ctx, &pb.GetStatusRequest{})
		return err == nil && !st.Healthy && len(st.Conditions) > 0
	})
	c := st.Conditions[0]
	if c.Kind != "switch" || !strings.Contains(c.Subject, "0x00000000000000c1") || !strings.Contains(c.Subject, "hv1/vswitch02") ||
		!strings.Contains(c.Message, "disconnected") {
		t.Fatalf("condition %+v, want the switch named as disconnected", c)
	}
	code, body := get(t, healthz)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "switch 0x00000000000000c1 (hv1/vswitch02): disconnected") {
		t.Fatalf("/healthz with the switch away: %d %q", code, body)
	}
	ports, err := tc.ListPorts(ctx, &pb.ListPortsRequest{Dpid: br.DPID})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports.Ports {
		if p.Up {
			t.Fatalf("port %s of a disconnected switch shown up", p.Name)
		}
	}

	// Aged out after forget_after, with its flows.
	waitFor(t, "the switch forgotten by age", 15*time.Second, func() bool {
		sws, err := tc.ListSwitches(ctx, &pb.ListSwitchesRequest{})
		return err == nil && len(sws.Switches) == 0
	})
	// Forgotten means unknown: no desired flows, no topology entry, so
	// asking for its flows names the switch as not known.
	flows, err := fc.ListFlows(ctx, &pb.ListFlowsRequest{Dpid: br.DPID})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "no switch") {
		t.Fatalf("flows of a forgotten switch: %v %v, want InvalidArgument: no switch ... known", flows, err)
	}
	if !strings.Contains(l.proc.Log(), "forgot a switch") {
		t.Fatal("no log line says the switch was forgotten")
	}
	st, err = cc.GetStatus(ctx, &pb.GetStatusRequest{})
	if err != nil || !st.Healthy {
		t.Fatalf("not healthy once the switch is forgotten: %v %+v", err, st.GetConditions())
	}
	_, err = cc.ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: br.DPID})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("forgetting an unknown switch: %v, want NotFound", err)
	}

	// It comes back as new, and gets its flows again.
	br.SetController("unix:" + l.sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the forgotten switch came back: %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
