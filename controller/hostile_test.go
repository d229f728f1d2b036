package controller

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
)

// failingListener fails its first n accepts as a process out of file
// descriptors would, then hands out real connections.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// Accept errors other than a closed listener never stop Serve: they are
// counted, logged in summary, and retried; a switch connects afterwards.
func TestAcceptErrorsDoNotStopServe(t *testing.T) {
	r := newRig(t) // its own listener, for the rest of the rig
	ul, err := Listen("unix:" + t.TempDir() + "/of.sock")
	if err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: ul}
	fl.fails.Store(6)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.ctl.Serve(ctx, fl) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve after accept errors: %v", err)
		}
	}()
	c, err := net.Dial("unix", ul.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fakeswitch.Start(c, 0xe1, port(1, "p1"))
	r.waitConnected(0xe1)
	if n := r.ctl.Stats().AcceptErrors; n != 6 {
		t.Fatalf("accept errors counted: %d, want 6", n)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned on accept errors: %v", err)
	default:
	}
	if n := len(r.logLines("accepting an OpenFlow connection failed")); n < 1 || n > 3 {
		t.Fatalf("%d log lines for 6 accept errors in a burst, want a summary", n)
	}
}

// A switch sending thousands of errors with made-up xids gets them
// counted, not one log line each.
func TestUnmatchedSwitchErrorsAreSummarised(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"))
	for i := 0; i < 5000; i++ {
		sw.Send(openflow.Encode(openflow.ErrorOut{ErrType: openflow.ErrBadRequest, Code: openflow.BadRequestBadType}, uint32(0x7000000+i)))
	}
	r.eventually("every error counted", func() bool { return r.ctl.Stats().UnknownErrors == 5000 })
	if n := len(r.logLines("naming no request")); n < 1 || n > 2 {
		t.Fatalf("%d log lines for 5000 unmatched errors, want a summary", n)
	}
}
