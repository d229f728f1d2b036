package integration

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// SIGTERM with API streams open (some never read, one reading) and a
// switch connected: loomd ends every stream, stops its sessions, flushes
// and releases the database, and exits 0 by itself — not by the
// watchdog — so a restart on the same database works at once.
func TestShutdownWithOpenStreams(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)

	conn, _ := l.api(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tc := pb.NewTopologyServiceClient(conn)
	pc := pb.NewPacketServiceClient(conn)
	var ended []<-chan error
	for i := 0; i < 20; i++ { // opened and never read
		if _, err := tc.WatchTopology(ctx, &pb.WatchTopologyRequest{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.WatchPacketIns(ctx, &pb.WatchPacketInsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	reader, err := tc.WatchTopology(ctx, &pb.WatchTopologyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ended = append(ended, done)
	go func() {
		for {
			if _, err := reader.Recv(); err != nil {
				done <- err
				return
			}
		}
	}()
	// Traffic, so the streams have something queued.
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	if err := l.proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The bound is loomd's own (streams 2s, everything 10s); exiting 0
	// says the ordered path finished, not the watchdog.
	if err := l.proc.Wait(15 * time.Second); err != nil {
		t.Fatalf("loomd did not stop cleanly with streams open: %v\n%s", err, tailLines(l.proc.Log(), 30))
	}
	log := l.proc.Log()
	for _, want := range []string{"loomd stopped"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, tailLines(log, 30))
		}
	}
	if strings.Contains(log, "shutdown did not finish in time") {
		t.Fatalf("the watchdog ended loomd:\n%s", tailLines(log, 30))
	}
	for _, ch := range ended {
		select {
		case err := <-ch:
			if !strings.Contains(err.Error(), "shutting down") && !strings.Contains(err.Error(), "Unavailable") {
				t.Fatalf("the reading watcher ended with %v, want Unavailable: loomd is shutting down", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the reading watcher's stream did not end")
		}
	}
	// The database is released: a new loomd opens it.
	l.start(t)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
}
