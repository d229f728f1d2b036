package openflow

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
)

// testPeer is the switch side of a net.Pipe: it records what the Conn
// sends and writes raw bytes back.
type testPeer struct {
	t    *testing.T
	nc   net.Conn
	recv chan []byte
}

func newPair(t *testing.T, cfg Config) (*Conn, *testPeer) {
	a, b := net.Pipe()
	p := &testPeer{t: t, nc: b, recv: make(chan []byte, 100)}
	go func() {
		f := NewFramer(b, MaxMessageLen)
		for {
			m, err := f.Next()
			if err != nil {
				close(p.recv)
				return
			}
			p.recv <- append([]byte(nil), m...)
		}
	}()
	c := NewConn(a, cfg)
	t.Cleanup(func() { c.Close(); b.Close() })
	return c, p
}

func (p *testPeer) send(m []byte) {
	p.t.Helper()
	p.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := p.nc.Write(m); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

// next returns the next message the Conn sent, skipping echo requests
// unless wantType asks for one.
func (p *testPeer) next(wantType uint8) []byte {
	p.t.Helper()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case m, ok := <-p.recv:
			if !ok {
				p.t.Fatalf("connection closed while waiting for %s", TypeName(wantType))
			}
			if m[1] == wantType {
				return m
			}
		case <-timeout:
			p.t.Fatalf("no %s from Conn", TypeName(wantType))
		}
	}
}

func raw(typ uint8, xid uint32, body ...byte) []byte {
	b := []byte{Version, typ, 0, 0}
	b = binary.BigEndian.AppendUint32(b, xid)
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

var hello13 = raw(TypeHello, 1, 0, 1, 0, 8, 0, 0, 0, 0x10)

func handshake(t *testing.T, c *Conn, p *testPeer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := c.Handshake(); done <- err }()
	p.next(TypeHello)
	p.send(hello13)
	if err := <-done; err != nil {
		t.Fatalf("handshake: %v", err)
	}
}

func serve(c *Conn) (chan Message, chan error) {
	msgs, end := make(chan Message, 100), make(chan error, 1)
	go func() { end <- c.Serve(func(m Message) { msgs <- m }) }()
	return msgs, end
}

func TestHandshakeOffersOnly13(t *testing.T) {
	c, p := newPair(t, Config{})
	done := make(chan error, 1)
	go func() { _, err := c.Handshake(); done <- err }()
	h := p.next(TypeHello)
	m, err := Decode(h)
	if err != nil {
		t.Fatal(err)
	}
	hello := m.(*Hello)
	if !hello.HasBitmap || len(hello.Bitmap) != 1 || hello.Bitmap[0] != 1<<4 {
		t.Fatalf("HELLO bitmap %v, want only version 4", hello.Bitmap)
	}
	p.send(hello13)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeRejectsOtherVersions(t *testing.T) {
	for name, peerHello := range map[string][]byte{
		"OF1.0 header, no bitmap": {1, 0, 0, 8, 0, 0, 0, 1},
		"bitmap 1.0 and 1.4":      {5, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x22},
	} {
		t.Run(name, func(t *testing.T) {
			c, p := newPair(t, Config{})
			done := make(chan error, 1)
			go func() { _, err := c.Handshake(); done <- err }()
			p.next(TypeHello)
			p.send(peerHello)
			if err := <-done; !errors.Is(err, ErrVersion) {
				t.Fatalf("got %v, want ErrVersion", err)
			}
			e := p.next(TypeError)
			if typ, code := binary.BigEndian.Uint16(e[8:]), binary.BigEndian.Uint16(e[10:]); typ != ErrHelloFailed || code != HelloIncompatible {
				t.Fatalf("error type %d code %d, want HELLO_FAILED/INCOMPATIBLE", typ, code)
			}
		})
	}
}

func TestHandshakeTimesOutWithoutHello(t *testing.T) {
	c, p := newPair(t, Config{HelloTimeout: 100 * time.Millisecond})
	done := make(chan error, 1)
	go func() { _, err := c.Handshake(); done <- err }()
	p.next(TypeHello)
	if err := <-done; !errors.Is(err, ErrNoHello) {
		t.Fatalf("got %v, want ErrNoHello", err)
	}
}

func TestRequestReplyAndErrorsByXid(t *testing.T) {
	c, p := newPair(t, Config{})
	handshake(t, c, p)
	msgs, _ := serve(c)

	res := make(chan error, 2)
	go func() { res <- c.Barrier(context.Background()) }()
	br := p.next(TypeBarrierRequest)
	p.send(raw(TypeBarrierReply, ParseHeader(br).Xid))
	if err := <-res; err != nil {
		t.Fatalf("barrier: %v", err)
	}

	go func() { _, err := c.Request(context.Background(), FeaturesRequest); res <- err }()
	fr := p.next(TypeFeaturesRequest)
	// The switch rejects it: the error carries the request's xid.
	p.send(raw(TypeError, ParseHeader(fr).Xid, append([]byte{0, 1, 0, 1}, fr...)...))
	var em *ErrorMsg
	if err := <-res; !errors.As(err, &em) || em.ErrType != ErrBadRequest {
		t.Fatalf("got %v, want the switch's BAD_REQUEST error", err)
	}

	// An error for a fire-and-forget message reaches the handler with its xid.
	xid, _ := c.Send(NewFlowMod(FlowAdd))
	p.next(TypeFlowMod)
	p.send(raw(TypeError, xid, 0, 5, 0, 0))
	select {
	case m := <-msgs:
		if e, ok := m.(*ErrorMsg); !ok || e.Xid != xid {
			t.Fatalf("handler got %#v, want ErrorMsg with xid %d", m, xid)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("flow-mod error never reached the handler")
	}
}

func TestMultipartReassemblyKeepsOrder(t *testing.T) {
	c, p := newPair(t, Config{})
	handshake(t, c, p)
	msgs, _ := serve(c)
	type result struct {
		body []byte
		err  error
	}
	res := make(chan result, 1)
	go func() {
		b, err := c.Multipart(context.Background(), MultipartRequest{MPType: 13})
		res <- result{b, err}
	}()
	xid := ParseHeader(p.next(TypeMultipartReq)).Xid
	port := func(no byte) []byte { b := make([]byte, 64); b[3] = no; return b }
	part := func(more bool, ports ...[]byte) []byte {
		body := []byte{0, 13, 0, 0, 0, 0, 0, 0}
		if more {
			body[3] = 1
		}
		for _, pb := range ports {
			body = append(body, pb...)
		}
		return raw(TypeMultipartReply, xid, body...)
	}
	p.send(part(true, port(1), port(2)))
	p.send(raw(TypePortStatus, 77, append(make([]byte, 8), port(9)...)...)) // async, between parts
	p.send(part(false, port(3)))
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	ports, err := ParsePortDescs(r.body)
	if err != nil || len(ports) != 3 || ports[0].No != 1 || ports[2].No != 3 {
		t.Fatalf("ports %+v err %v, want 1,2,3", ports, err)
	}
	if m := <-msgs; m.Hdr().Xid != 77 {
		t.Fatalf("handler got %#v, want the port status", m)
	}
}

func TestEchoRequestsAreAnswered(t *testing.T) {
	c, p := newPair(t, Config{})
	handshake(t, c, p)
	serve(c)
	p.send(raw(TypeEchoRequest, 4242, 'h', 'i'))
	r := p.next(TypeEchoReply)
	if ParseHeader(r).Xid != 4242 || string(r[8:]) != "hi" {
		t.Fatalf("echo reply %v", r)
	}
}

func TestSilentPeerIsProbedThenDeclaredDead(t *testing.T) {
	iv := 100 * time.Millisecond
	c, p := newPair(t, Config{EchoInterval: iv})
	handshake(t, c, p)
	start := time.Now()
	_, end := serve(c)
	p.next(TypeEchoRequest) // probed after one interval of silence
	select {
	case err := <-end:
		if !errors.Is(err, ErrPeerSilent) {
			t.Fatalf("got %v, want ErrPeerSilent", err)
		}
		if d := time.Since(start); d < 2*iv {
			t.Fatalf("declared dead after %v, before two intervals", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("silent peer never declared dead")
	}
}

func TestMalformedMessageClosesWithReason(t *testing.T) {
	for name, bad := range map[string][]byte{
		"zero-length oxm": raw(TypePacketIn, 5, append(make([]byte, 16), 0, 1, 0, 8, 0x80, 0, 0, 0, 0, 0)...),
		"unknown type":    raw(99, 5),
		"version 1.0":     {1, TypeEchoRequest, 0, 8, 0, 0, 0, 5},
	} {
		t.Run(name, func(t *testing.T) {
			c, p := newPair(t, Config{})
			handshake(t, c, p)
			_, end := serve(c)
			p.send(bad)
			select {
			case err := <-end:
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
					t.Fatalf("got %v, want a malformed/unsupported error", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("connection survived a malformed message")
			}
			e := p.next(TypeError)
			if binary.BigEndian.Uint16(e[8:]) != ErrBadRequest {
				t.Fatalf("peer got error type %d, want BAD_REQUEST", binary.BigEndian.Uint16(e[8:]))
			}
		})
	}
}

func TestFlowModAndFlowStatsRoundTrip(t *testing.T) {
	fm := NewFlowMod(FlowModifyStrict)
	fm.Cookie, fm.TableID, fm.Priority = 0x4c4d000000000001, 3, 77
	fm.Match = []OXM{InPortOXM(5)}
	fm.Instructions = []Instruction{ApplyActions(Output(2)), GotoTable(4)}
	got, err := ParseFlowMod(Encode(fm, 1))
	if err != nil || got.Cookie != fm.Cookie || got.TableID != 3 || got.Priority != 77 || got.Command != FlowModifyStrict ||
		len(got.Match) != 1 || len(got.Instructions) != 2 || got.Instructions[1].TableID != 4 {
		t.Fatalf("parsed %+v, %v", got, err)
	}
	body := AppendFlowStats(nil, FlowStats{TableID: 3, Priority: 77, Cookie: fm.Cookie, Packets: 9, Match: fm.Match, Instructions: fm.Instructions})
	fs, err := ParseFlowStats(body)
	if err != nil || len(fs) != 1 || fs[0].Packets != 9 || fs[0].Priority != 77 || len(fs[0].Instructions) != 2 {
		t.Fatalf("flow stats %+v, %v", fs, err)
	}
}

func TestErrorWatchCollectsErrorsBeforeTheBarrier(t *testing.T) {
	c, p := newPair(t, Config{})
	handshake(t, c, p)
	msgs, _ := serve(c)
	w := c.Watch()
	x1, _ := w.Send(NewFlowMod(FlowAdd))
	w.Send(NewFlowMod(FlowAdd))
	p.next(TypeFlowMod)
	p.next(TypeFlowMod)
	done := make(chan error, 1)
	go func() { done <- c.Barrier(context.Background()) }()
	br := p.next(TypeBarrierRequest)
	p.send(raw(TypeError, x1, 0, 3, 0, 2)) // refused on arrival
	p.send(raw(TypeBarrierReply, ParseHeader(br).Xid))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	errs := w.Errors()
	if len(errs) != 1 || errs[0].Xid != x1 {
		t.Fatalf("watch holds %v, want the one error for xid %d", errs, x1)
	}
	w.Close()
	p.send(raw(TypeError, x1, 0, 3, 0, 2))
	select {
	case m := <-msgs:
		if _, ok := m.(*ErrorMsg); !ok {
			t.Fatalf("handler got %#v", m)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("after Close the error did not reach the handler")
	}
}
