package controller

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
// counted, not one log line each, and keeps its session.
func TestUnmatchedSwitchErrorsAreSummarised(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"))
	for i := 0; i < 5000; i++ {
		sw.Send(openflow.Encode(openflow.ErrorOut{ErrType: openflow.ErrBadRequest, Code: openflow.BadRequestBadType}, uint32(0x7000000+i)))
	}
	// Each is counted: as unmatched, or dropped beyond the session's
	// backlog (the reader never waits for the session).
	r.eventually("every error counted", func() bool {
		st := r.ctl.Stats()
		return st.UnknownErrors+st.EventsDropped == 5000
	})
	if n := len(r.logLines("naming no request")); n < 1 || n > 2 {
		t.Fatalf("%d log lines for 5000 unmatched errors, want a summary", n)
	}
}

// A peer answering FEATURES with another reply type carrying the same xid
// (it used to panic loomd with a failed type assertion) is refused alone.
func TestWrongReplyTypeIsRefused(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	good := r.connect(0xc1, port(1, "vm1"))
	rejected := r.ctl.Stats().RejectedConns
	for _, typ := range []uint8{openflow.TypeBarrierReply, openflow.TypeEchoReply, openflow.TypeRoleReply,
		openflow.TypeMultipartReply, openflow.TypeExperimenter, openflow.TypeGetAsyncReply} {
		c := r.dial()
		c.Write(openflow.Encode(openflow.HelloMsg{}, 1))
		f := openflow.NewFramer(c, openflow.MaxMessageLen)
		for {
			raw, err := f.Next()
			if err != nil {
				t.Fatalf("%s: connection closed before FEATURES_REQUEST: %v", openflow.TypeName(typ), err)
			}
			if h := openflow.ParseHeader(raw); h.Type == openflow.TypeFeaturesRequest {
				msg := make([]byte, 16+8)
				msg[0], msg[1] = openflow.Version, typ
				msg[3] = byte(len(msg))
				copy(msg[4:8], raw[4:8]) // the request's xid
				c.Write(msg)
				break
			}
		}
		for {
			if _, err := f.Next(); err != nil {
				break // closed by Loom
			}
		}
	}
	select {
	case <-good.Done():
		t.Fatal("the good switch lost its session")
	default:
	}
	if n := r.ctl.Stats().SessionPanics; n != 0 {
		t.Fatalf("%d sessions panicked", n)
	}
	r.eventually("six refusals", func() bool { return r.ctl.Stats().RejectedConns-rejected == 6 })
	// Those that decode are named as the wrong reply (the others fail to
	// decode as what they claim to be).
	if n := len(r.logLines("answered a request for FEATURES_REPLY")); n < 4 {
		t.Fatalf("%d log lines naming the wrong reply, want at least 4", n)
	}
}

// A port-status storm (one port added and deleted 20,000 times) neither
// blocks the connection's reader nor gets the switch dropped as silent:
// the changes are coalesced per port, and what the apps end with is the
// port's last state.
func TestPortStatusStormIsCoalesced(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"))
	for i := 0; i < 20000; i++ {
		reason := uint8(openflow.PortReasonAdd)
		if i%2 == 1 {
			reason = openflow.PortReasonDelete
		}
		sw.Send(fakeswitch.PortStatus(uint32(5000+i), reason, port(7, "flap")))
	}
	sw.Send(fakeswitch.PortStatus(99999, openflow.PortReasonAdd, port(7, "flap")))
	// The session answers a call (so its loop and reader are alive).
	s := r.ctl.reg.get(0xc1)
	if s == nil {
		t.Fatal("the switch lost its session in the storm")
	}
	answered := make(chan error, 1)
	go func() { answered <- s.do(func() {}) }()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the session did not answer during the storm: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not answer during the storm")
	}
	r.eventually("port 7 up in the end", func() bool {
		var up bool
		_ = s.do(func() {
			for _, p := range s.sw.Ports {
				if p.No == 7 {
					up = true
				}
			}
		})
		return up
	})
	select {
	case <-sw.Done():
		t.Fatal("the switch was dropped")
	default:
	}
}
