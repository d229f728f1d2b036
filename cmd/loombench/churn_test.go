package main

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
)

// loomUnix serves an in-process controller with the learning switch on a
// unix socket.
func loomUnix(t *testing.T) string {
	t.Helper()
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log}, l2.New(l2.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "of.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctl.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "unix:" + sock
}

func TestChurnReconnectsTheSameDPIDs(t *testing.T) {
	addr := loomUnix(t)
	out := capture(t, func() error {
		return churn([]string{"--controller", addr, "--switches", "40", "--rounds", "2", "--hold", "200ms",
			"--ready-timeout", "20s", "--churn", "0.5"})
	})
	if n := number(t, out, `round=1 kind=storm switches=40 dialed=40 retries=\d+ failed=0 ready=(\d+)`); n != 40 {
		t.Fatalf("storm round: %v of 40 ready:\n%s", n, out)
	}
	if n := number(t, out, `round=2 kind=churn .* reconnects=20 reconnect_ready=(\d+)`); n != 20 {
		t.Fatalf("churn round: %v of 20 reconnected switches got their flows again:\n%s", n, out)
	}
	if n := number(t, out, `total rounds=2 switches=80 dialed=80 retries=\d+ failed=0 ready=(\d+)`); n != 80 {
		t.Fatalf("total: %v of 80 ready:\n%s", n, out)
	}
}

func TestChurnCountsAControllerThatIsNotThere(t *testing.T) {
	addr := "unix:" + filepath.Join(t.TempDir(), "nobody.sock")
	out := capture(t, func() error {
		return churn([]string{"--controller", addr, "--switches", "5", "--rounds", "1", "--hold", "0s", "--ready-timeout", "300ms"})
	})
	if n := number(t, out, `round=1 kind=storm switches=5 dialed=0 retries=\d+ failed=(\d+)`); n != 5 {
		t.Fatalf("%v of 5 failed:\n%s", n, out)
	}
}

func TestHelloHoldsConnections(t *testing.T) {
	addr := loomUnix(t)
	out := capture(t, func() error {
		return hello([]string{"--controller", addr, "--conns", "30", "--duration", "1500ms"})
	})
	if n := number(t, out, `total conns=30 open=\d+ max_open=(\d+)`); n < 30 {
		t.Fatalf("max_open %v, want 30:\n%s", n, out)
	}
	if n := number(t, out, `refused=(\d+)`); n != 0 {
		t.Fatalf("%v refused:\n%s", n, out)
	}
}

func TestPktinFloodsAtItsRate(t *testing.T) {
	addr := loomUnix(t)
	out := capture(t, func() error {
		return pktin([]string{"--controller", addr, "--switches", "2", "--rate", "5000", "--duration", "1500ms"})
	})
	if n := number(t, out, `total sent=(\d+)`); n < 4000 {
		t.Fatalf("sent %v packet-ins in 1.5s at 5000/s:\n%s", n, out)
	}
	if n := number(t, out, `flow_mods=(\d+)`); n == 0 {
		t.Fatalf("the controller answered nothing:\n%s", out)
	}
}
