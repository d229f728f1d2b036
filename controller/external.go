package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/store"
)

// External apps (API clients) own flows under this pseudo-app: its name
// is the owner's app, "<client>/<key>" the owner's key, and its cookie id
// is reserved for them.
const (
	externalApp            = store.ExternalApp
	externalID  flow.AppID = 200
)

// errorRing keeps a switch's last errors for the API.
type errorRing struct {
	mu   sync.Mutex
	errs []SwitchError
}

// SwitchError is an error a switch returned, with what caused it.
type SwitchError struct {
	Time  time.Time
	Error string
	App   string
	Key   string
	Flow  string
}

const keptErrors = 64

func (r *errorRing) add(e SwitchError) {
	r.mu.Lock()
	r.errs = append(r.errs, e)
	if len(r.errs) > keptErrors {
		r.errs = r.errs[len(r.errs)-keptErrors:]
	}
	r.mu.Unlock()
}

func (r *errorRing) list() []SwitchError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]SwitchError(nil), r.errs...)
}

// sessionCall runs fn on a session's goroutine, in order with its events.
type sessionCall struct {
	fn   func()
	done chan struct{}
}

// do runs fn on the session goroutine and waits for it.
func (s *session) do(fn func()) error {
	call := sessionCall{fn: fn, done: make(chan struct{})}
	select {
	case s.events <- call:
	case <-s.conn.Done():
		return openflow.ErrClosed
	}
	select {
	case <-call.done:
		return nil
	case <-s.conn.Done():
		return openflow.ErrClosed
	}
}

// PacketFilter selects packet-ins for a subscriber; zero fields match all.
type PacketFilter struct {
	DPID       uint64
	EthType    uint16
	Cookie     uint64
	CookieMask uint64
}

func (f PacketFilter) match(p apps.PacketIn) bool {
	if f.DPID != 0 && p.DPID != f.DPID {
		return false
	}
	if f.EthType != 0 && (len(p.Data) < 14 || uint16(p.Data[12])<<8|uint16(p.Data[13]) != f.EthType) {
		return false
	}
	return uint64(p.Cookie)&f.CookieMask == f.Cookie&f.CookieMask
}

// PacketEvent is a packet-in as subscribers get it.
type PacketEvent struct {
	apps.PacketIn
	Time time.Time
}

// PacketSub is one subscriber's packet-ins (SubscribePackets).
type PacketSub struct {
	filter PacketFilter
	ch     chan PacketEvent
	// queued is the frame bytes waiting in ch: a subscriber that lets
	// more than packetSubBytes (or a full channel) pile up is dropped —
	// gone is closed and nothing more is queued — so a client that never
	// reads pins a bounded amount of memory, not every frame it missed.
	queued   atomic.Int64
	dropped  atomic.Bool
	gone     chan struct{}
	dropOnce sync.Once
}

// packetSubBytes bounds the frame bytes one packet-in subscriber holds.
const packetSubBytes = 4 << 20

// drop ends the subscription for falling behind.
func (s *PacketSub) drop() {
	s.dropOnce.Do(func() {
		s.dropped.Store(true)
		close(s.gone)
	})
}

// Received is called by the subscriber for each event it takes.
func (s *PacketSub) Received(e PacketEvent) { s.queued.Add(-int64(len(e.Data))) }

// C delivers the packet-ins.
func (s *PacketSub) C() <-chan PacketEvent { return s.ch }

// Gone is closed when the subscriber fell behind and was dropped.
func (s *PacketSub) Gone() <-chan struct{} { return s.gone }

// packetSubs fans packet-ins out to API subscribers. With none, the
// packet path pays one atomic-free length check under a read lock.
type packetSubs struct {
	mu   sync.RWMutex
	subs map[*PacketSub]struct{}
}

func (p *packetSubs) publish(pkt apps.PacketIn, clock func() time.Time) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if len(p.subs) == 0 {
		return
	}
	now := clock()
	for s := range p.subs {
		if s.dropped.Load() || !s.filter.match(pkt) {
			continue
		}
		if s.queued.Load()+int64(len(pkt.Data)) > packetSubBytes {
			s.drop()
			continue
		}
		select {
		case s.ch <- PacketEvent{PacketIn: pkt, Time: now}:
			s.queued.Add(int64(len(pkt.Data)))
		default:
			s.drop() // it cannot keep up; Loom does not wait for it
		}
	}
}

func (p *packetSubs) add(f PacketFilter, buffer int) (*PacketSub, func()) {
	s := &PacketSub{filter: f, ch: make(chan PacketEvent, buffer), gone: make(chan struct{})}
	p.mu.Lock()
	if p.subs == nil {
		p.subs = map[*PacketSub]struct{}{}
	}
	p.subs[s] = struct{}{}
	p.mu.Unlock()
	return s, func() {
		p.mu.Lock()
		delete(p.subs, s)
		p.mu.Unlock()
	}
}

// declareExternal sets (or, deleted, withdraws) an API client's flows. With
// a store it returns only once the change is committed to it, and applies
// nothing when the store refuses it (a *StoreError); without one the
// change lives in memory only.
func (c *Controller) declareExternal(ctx context.Context, dpid uint64, o owner, flows []flow.Flow, deleted bool) error {
	if c.persist == nil {
		if deleted {
			c.desired.remove(dpid, o)
		} else {
			c.desired.set(dpid, o, externalID, flows)
		}
		return nil
	}
	return c.persist.write(ctx, c.desired, dpid, o, externalID, flows, deleted)
}
