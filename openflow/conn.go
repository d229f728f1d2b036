package openflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Conn. Zero values take the defaults below.
type Config struct {
	// HelloTimeout bounds the wait for the peer's HELLO (default 5s).
	HelloTimeout time.Duration
	// EchoInterval is the keepalive period: after this much silence Loom
	// sends an echo request, after twice this much the peer is dead
	// (default 5s).
	EchoInterval time.Duration
	// WriteTimeout bounds one write to the peer (default 10s).
	WriteTimeout time.Duration
	// MaxMessageLen is the largest message accepted after HELLO (default
	// and maximum 65535).
	MaxMessageLen int
	// MaxMultipartBytes bounds one reassembled multipart reply (default 256 MiB).
	MaxMultipartBytes int
}

func (c Config) withDefaults() Config {
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 5 * time.Second
	}
	if c.EchoInterval <= 0 {
		c.EchoInterval = 5 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxMessageLen <= 0 || c.MaxMessageLen > MaxMessageLen {
		c.MaxMessageLen = MaxMessageLen
	}
	if c.MaxMultipartBytes <= 0 {
		c.MaxMultipartBytes = 256 << 20
	}
	return c
}

// Errors a Conn reports as the reason it closed.
var (
	ErrVersion     = errors.New("peer does not speak OpenFlow 1.3")
	ErrNoHello     = errors.New("no HELLO from peer")
	ErrPeerSilent  = errors.New("peer silent")
	ErrClosed      = errors.New("connection closed")
	ErrMultipartTB = errors.New("multipart reply too large")
)

// Conn is one OpenFlow 1.3 connection over any net.Conn. It allocates xids,
// matches replies (echo, barrier, features, role, multipart with
// REPLY_MORE reassembly) and errors to the request that caused them, keeps
// the connection alive with echoes in both directions, and hands every
// other message to the handler, in arrival order, on the read goroutine.
type Conn struct {
	nc     net.Conn
	cfg    Config
	framer *Framer
	w      *batchWriter

	xid atomic.Uint32
	// received counts messages from the peer; the keepalive watches it
	// change instead of the read path reading the clock per message.
	received atomic.Uint64

	mu      sync.Mutex
	pending map[uint32]*pending
	watches []*ErrorWatch

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error

	encPool sync.Pool
}

type pending struct {
	ch        chan reply // buffered(1)
	multipart bool
	body      []byte
	// want is the reply type the request calls for (and mpType its
	// multipart type): a peer answering with anything else, even with
	// the right xid, gets an error, never a value of the wrong type.
	want   uint8
	mpType uint16
}

// ErrWrongReply is a reply whose type does not answer its request.
var ErrWrongReply = errors.New("reply of the wrong type")

// expect fills p's expected reply from the request m.
func (p *pending) expect(m Outgoing) {
	switch m.MsgType() {
	case TypeEchoRequest:
		p.want = TypeEchoReply
	case TypeBarrierRequest:
		p.want = TypeBarrierReply
	case TypeFeaturesRequest:
		p.want = TypeFeaturesReply
	case TypeRoleRequest:
		p.want = TypeRoleReply
	case TypeGetAsyncRequest:
		p.want = TypeGetAsyncReply
	case TypeMultipartReq:
		p.want = TypeMultipartReply
		if mr, ok := m.(MultipartRequest); ok {
			p.mpType = mr.MPType
		}
	default: // experimenter requests (bundle control) and the rest
		p.want = TypeExperimenter
	}
}

// check says why msg does not answer p's request, or nil.
func (p *pending) check(msg Message) error {
	h := msg.Hdr()
	if h.Type == TypeError {
		return nil
	}
	if h.Type != p.want {
		return fmt.Errorf("%w: %s answered a request for %s (xid %d)", ErrWrongReply, TypeName(h.Type), TypeName(p.want), h.Xid)
	}
	if mr, ok := msg.(*MultipartReply); ok && mr.MPType != p.mpType {
		return fmt.Errorf("%w: multipart reply type %d answered a request for type %d (xid %d)", ErrWrongReply, mr.MPType, p.mpType, h.Xid)
	}
	return nil
}

type reply struct {
	msg  Message
	body []byte
	err  error
}

// NewConn wraps nc. Call Handshake, then Serve.
func NewConn(nc net.Conn, cfg Config) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		nc:      nc,
		cfg:     cfg,
		framer:  NewFramer(nc, MaxHelloLen),
		w:       newBatchWriter(nc, cfg.WriteTimeout),
		pending: make(map[uint32]*pending),
		closed:  make(chan struct{}),
	}
	c.encPool.New = func() any { b := make([]byte, 0, 512); return &b }
	return c
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Handshake exchanges HELLOs. A peer that does not offer OpenFlow 1.3 gets
// OFPET_HELLO_FAILED and ErrVersion is returned; the caller closes.
func (c *Conn) Handshake() (*Hello, error) {
	if _, err := c.Send(HelloMsg{}); err != nil {
		return nil, err
	}
	c.nc.SetReadDeadline(time.Now().Add(c.cfg.HelloTimeout))
	raw, err := c.framer.Next()
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("%w within %v", ErrNoHello, c.cfg.HelloTimeout)
		}
		return nil, fmt.Errorf("waiting for HELLO: %w", err)
	}
	c.nc.SetReadDeadline(time.Time{})
	h := ParseHeader(raw)
	if h.Type != TypeHello {
		return nil, fmt.Errorf("%w: first message is %s (version 0x%02x), not HELLO", ErrMalformed, TypeName(h.Type), h.Version)
	}
	msg, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	hello := msg.(*Hello)
	if !hello.Supports(Version) {
		c.sendAndFlush(ErrorOut{ErrType: ErrHelloFailed, Code: HelloIncompatible,
			Data: []byte("Loom speaks OpenFlow 1.3 (0x04) only")})
		return nil, fmt.Errorf("%w: its HELLO offers version 0x%02x, bitmap %v", ErrVersion, hello.Version, hello.Bitmap)
	}
	c.framer.SetMax(c.cfg.MaxMessageLen)
	c.touch()
	return hello, nil
}

// Serve reads until the connection fails or is closed, calling handle for
// every message that is not a reply to one of our requests. It returns the
// reason the connection ended; the connection is closed by then.
func (c *Conn) Serve(handle func(Message)) error {
	keepalives.add(c)
	for {
		raw, err := c.framer.Next()
		if err != nil {
			return c.closeWith(err)
		}
		c.touch()
		msg, err := Decode(raw)
		if err != nil {
			c.rejectBadMessage(raw, err)
			return c.closeWith(err)
		}
		if c.dispatchReply(msg) {
			continue
		}
		if e, ok := msg.(*Echo); ok && e.Type == TypeEchoRequest {
			_ = c.sendXid(EchoMsg{Reply: true, Data: e.Data}, e.Xid) // unwritable means a dead peer, which keepalive or the next read reports
			continue
		}
		handle(msg)
	}
}

// rejectBadMessage tells the peer why it is being dropped, best effort.
func (c *Conn) rejectBadMessage(raw []byte, err error) {
	code := uint16(BadRequestBadLen)
	switch {
	case errors.Is(err, ErrUnsupported):
		code = BadRequestBadType
	case len(raw) > 0 && raw[0] != Version:
		code = 0 // OFPBRC_BAD_VERSION
	}
	c.sendAndFlush(ErrorOut{ErrType: ErrBadRequest, Code: code, Data: raw})
}

// dispatchReply hands msg to a waiting request; false if none waits.
func (c *Conn) dispatchReply(msg Message) bool {
	h := msg.Hdr()
	switch h.Type {
	case TypeEchoReply, TypeBarrierReply, TypeFeaturesReply, TypeRoleReply, TypeGetAsyncReply,
		TypeGetConfigReply, TypeMultipartReply, TypeError, TypeExperimenter:
	default:
		return false
	}
	c.mu.Lock()
	p, ok := c.pending[h.Xid]
	if !ok {
		var watch *ErrorWatch
		if e, isErr := msg.(*ErrorMsg); isErr {
			for _, w := range c.watches {
				if w.covers(e.Xid) {
					watch = w
				}
			}
		}
		c.mu.Unlock()
		if watch != nil {
			watch.add(msg.(*ErrorMsg))
			return true
		}
		return false
	}
	var r reply
	done := true
	if err := p.check(msg); err != nil {
		delete(c.pending, h.Xid)
		c.mu.Unlock()
		p.ch <- reply{err: err}
		return true
	}
	switch m := msg.(type) {
	case *ErrorMsg:
		r.err = m
	case *MultipartReply:
		if !p.multipart {
			r.msg = m
			break
		}
		if len(p.body)+len(m.Body) > c.cfg.MaxMultipartBytes {
			r.err = fmt.Errorf("%w: over %d bytes", ErrMultipartTB, c.cfg.MaxMultipartBytes)
			break
		}
		p.body = append(p.body, m.Body...)
		if m.More() {
			done = false
		}
		r.body = p.body
		r.msg = m
	default:
		r.msg = msg
	}
	if done {
		delete(c.pending, h.Xid)
	}
	c.mu.Unlock()
	if done {
		p.ch <- r
	}
	return true
}

// Send queues m with a fresh xid and returns that xid. An error the switch
// later returns for it reaches the Serve handler as *ErrorMsg with this xid.
func (c *Conn) Send(m Outgoing) (uint32, error) {
	xid := c.NextXid()
	return xid, c.sendXid(m, xid)
}

// NextXid allocates an xid (never 0).
func (c *Conn) NextXid() uint32 {
	for {
		if x := c.xid.Add(1); x != 0 {
			return x
		}
	}
}

func (c *Conn) sendXid(m Outgoing, xid uint32) error {
	bp := c.encPool.Get().(*[]byte)
	b := AppendEncoded((*bp)[:0], m, xid)
	var err error
	if len(b) > MaxMessageLen {
		err = fmt.Errorf("%s of %d bytes exceeds the OpenFlow maximum of %d", TypeName(m.MsgType()), len(b), MaxMessageLen)
	} else {
		err = c.w.write(b)
	}
	*bp = b
	c.encPool.Put(bp)
	return err
}

// sendAndFlush writes m and waits for it to leave, for last words before close.
func (c *Conn) sendAndFlush(m Outgoing) {
	_, _ = c.Send(m) // last words: the connection closes either way
	c.w.close()
}

// Request sends m and waits for the reply with its xid. An OFPT_ERROR for
// it is returned as *ErrorMsg.
func (c *Conn) Request(ctx context.Context, m Outgoing) (Message, error) {
	r, err := c.roundTrip(ctx, m, false)
	return r.msg, err
}

// Multipart sends a multipart request and returns the reassembled body of
// all reply parts.
func (c *Conn) Multipart(ctx context.Context, m MultipartRequest) ([]byte, error) {
	r, err := c.roundTrip(ctx, m, true)
	return r.body, err
}

// Barrier waits until the switch has processed everything sent before it.
func (c *Conn) Barrier(ctx context.Context) error {
	_, err := c.Request(ctx, BarrierRequest)
	return err
}

// Begin sends a request now and returns a function that waits for its
// reply: requests pipelined behind it (sent before the wait) keep their
// order on the wire, and the caller pays one round trip for all.
func (c *Conn) Begin(ctx context.Context, m Outgoing) func() (Message, error) {
	xid := c.NextXid()
	p := &pending{ch: make(chan reply, 1)}
	p.expect(m)
	c.mu.Lock()
	c.pending[xid] = p
	c.mu.Unlock()
	if err := c.sendXid(m, xid); err != nil {
		c.forget(xid)
		return func() (Message, error) { return nil, err }
	}
	return func() (Message, error) { return c.await(ctx, m, xid, p) }
}

func (c *Conn) roundTrip(ctx context.Context, m Outgoing, multipart bool) (reply, error) {
	xid := c.NextXid()
	p := &pending{ch: make(chan reply, 1), multipart: multipart}
	p.expect(m)
	c.mu.Lock()
	c.pending[xid] = p
	c.mu.Unlock()
	if err := c.sendXid(m, xid); err != nil {
		c.forget(xid)
		return reply{}, err
	}
	return c.awaitReply(ctx, m, xid, p)
}

func (c *Conn) await(ctx context.Context, m Outgoing, xid uint32, p *pending) (Message, error) {
	r, err := c.awaitReply(ctx, m, xid, p)
	return r.msg, err
}

func (c *Conn) awaitReply(ctx context.Context, m Outgoing, xid uint32, p *pending) (reply, error) {
	select {
	case r := <-p.ch:
		return r, r.err
	case <-ctx.Done():
		c.forget(xid)
		return reply{}, fmt.Errorf("%s xid=%d: %w", TypeName(m.MsgType()), xid, ctx.Err())
	case <-c.closed:
		return reply{}, fmt.Errorf("%s xid=%d: %w: %v", TypeName(m.MsgType()), xid, ErrClosed, c.closeErr)
	}
}

func (c *Conn) forget(xid uint32) {
	c.mu.Lock()
	delete(c.pending, xid)
	c.mu.Unlock()
}

func (c *Conn) touch() { c.received.Add(1) }

// Close closes the connection; Serve returns.
func (c *Conn) Close() error {
	c.closeWith(ErrClosed)
	return nil
}

// CloseWithError closes the connection for reason (what Serve returns and
// Err reports), when the peer's behaviour is the problem.
func (c *Conn) CloseWithError(reason error) { c.closeWith(reason) }

// closeWith closes once and records the first reason.
func (c *Conn) closeWith(reason error) error {
	c.closeOnce.Do(func() {
		c.closeErr = reason
		keepalives.remove(c)
		c.w.close()
		c.nc.Close()
		close(c.closed)
	})
	return c.closeErr
}

// Done is closed when the connection is.
func (c *Conn) Done() <-chan struct{} { return c.closed }

// Err is why the connection closed (nil while open).
func (c *Conn) Err() error {
	select {
	case <-c.closed:
		return c.closeErr
	default:
		return nil
	}
}

// ErrorWatch collects the errors a switch returns for the messages sent
// through it. Because a switch answers in order, once a barrier sent after
// those messages has been answered, Errors holds every error they caused.
// The bundle reconciler uses it to discard a bundle one of whose messages
// was refused on arrival, rather than commit the rest.
//
// A watch covers the xid range from its first to its last Send, so it
// costs no bookkeeping per message; an error for another goroutine's
// message that falls inside the range is collected too, which only errs
// on the side of discarding.
type ErrorWatch struct {
	c      *Conn
	lo, hi atomic.Uint32
	mu     sync.Mutex
	errs   []*ErrorMsg
}

// Watch starts an ErrorWatch; Close it when done.
func (c *Conn) Watch() *ErrorWatch {
	w := &ErrorWatch{c: c}
	c.mu.Lock()
	c.watches = append(c.watches, w)
	c.mu.Unlock()
	return w
}

// Send sends m with a fresh xid whose errors the watch collects.
func (w *ErrorWatch) Send(m Outgoing) (uint32, error) {
	xid := w.c.NextXid()
	if w.lo.Load() == 0 {
		w.lo.Store(xid)
	}
	w.hi.Store(xid)
	return xid, w.c.sendXid(m, xid)
}

func (w *ErrorWatch) covers(xid uint32) bool {
	lo := w.lo.Load()
	return lo != 0 && xid >= lo && xid <= w.hi.Load()
}

func (w *ErrorWatch) add(e *ErrorMsg) {
	w.mu.Lock()
	w.errs = append(w.errs, e)
	w.mu.Unlock()
}

// Errors returns the errors collected so far.
func (w *ErrorWatch) Errors() []*ErrorMsg {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*ErrorMsg(nil), w.errs...)
}

// Close stops collecting; later errors for these xids go to the handler.
func (w *ErrorWatch) Close() {
	w.c.mu.Lock()
	for i, x := range w.c.watches {
		if x == w {
			w.c.watches = append(w.c.watches[:i], w.c.watches[i+1:]...)
			break
		}
	}
	w.c.mu.Unlock()
}
