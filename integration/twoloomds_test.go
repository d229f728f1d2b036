package integration

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Two loomds (not a cluster) pointed at one bridge: the one started last
// is master; the other finds out at its first write, stops writing to the
// switch, says so in its log and health, and the two do not fight: the
// master repairs no drift, and the VMs keep their path.
func TestSecondLoomdDoesNotFight(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", "flows:\n  verify_interval: 1s\n")
	first := startLoomd(t, lab, "--config", cfg)
	second := &loomd{lab: lab, sock: filepath.Join(lab.Dir(), "second.sock"), db: filepath.Join(lab.Dir(), "second.db")}
	second.start(t, "--config", cfg)
	br.SetControllers("unix:"+first.sock, "unix:"+second.sock)
	waitFor(t, "both loomds see the switch", 15*time.Second, func() bool {
		return strings.Contains(first.proc.Log(), "switch connected") && strings.Contains(second.proc.Log(), "switch connected")
	})
	if err := vm1.Ping(vm2.IP, 5, 10*time.Second); err != nil {
		t.Fatalf("ping with two controllers: %v", err)
	}
	// The master learned the VMs' MACs; the other loomd's next verify
	// pass would delete those flows: the switch refuses, and it steps back.
	waitFor(t, "the first loomd steps back", 15*time.Second, func() bool {
		return strings.Contains(first.proc.Log(), "another controller is master of this switch")
	})
	conn, ctx := first.api(t)
	st, err := pb.NewControllerServiceClient(conn).GetStatus(ctx, &pb.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Healthy || len(st.Conditions) == 0 || !strings.Contains(st.Conditions[0].Message, "another controller is master") {
		t.Fatalf("the passive loomd's health: healthy=%v %+v", st.Healthy, st.Conditions)
	}
	if strings.Contains(second.proc.Log(), "another controller is master") {
		t.Fatal("the loomd started last stepped back too")
	}

	// No fight: over several verify periods the master repairs nothing.
	metrics := "http://" + logAddr(t, second.proc.Log(), reMetricsAddr) + "/metrics"
	_, body := get(t, metrics)
	before := metric(t, body, "loom_drift_repairs_total")
	for i := 0; i < 5; i++ {
		if err := vm1.Ping(vm2.IP, 2, 10*time.Second); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		time.Sleep(time.Second)
	}
	code, body := get(t, metrics)
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	if after := metric(t, body, "loom_drift_repairs_total"); after != before {
		t.Fatalf("the master repaired %v flow-mods of drift while the other loomd was attached: they fight", after-before)
	}
	if n := strings.Count(first.proc.Log(), "another controller is master of this switch"); n != 1 {
		t.Fatalf("the passive loomd logged its demotion %d times, want once", n)
	}
}
