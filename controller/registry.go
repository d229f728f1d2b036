package controller

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// registry maps datapath ids to their session. A session claims its dpid
// as soon as FEATURES names it, but others see it (get, list) only once
// its setup is done and it is ready: until then its reconciler does not
// exist and its goroutine answers no calls, so an API request or a
// policy change must neither touch it nor wait for it.
type registry struct {
	mu        sync.Mutex
	sess      map[uint64]*session // claimed, ready or not
	ready     map[*session]bool
	claimedAt map[*session]time.Time // when each session claimed its dpid
	left      map[uint64]time.Time   // when each switch last disconnected
	// held are the switches being forgotten: a session claiming one waits
	// until the forget is done, so nothing is forgotten under it.
	held    map[uint64]bool
	started time.Time
}

func newRegistry() *registry {
	return &registry{sess: make(map[uint64]*session), ready: make(map[*session]bool),
		claimedAt: make(map[*session]time.Time), left: make(map[uint64]time.Time),
		held: make(map[uint64]bool), started: time.Now()}
}

// claim registers s for its dpid. A live session already holding the dpid
// keeps it: the newcomer is refused. Only when the holder fails an echo
// probe within probe is it closed and replaced, so a switch that restarted
// behind a half-open TCP connection gets back in, while a second
// connection claiming a live switch's identity never kicks it off.
func (r *registry) claim(ctx context.Context, s *session, probe time.Duration) error {
	for {
		r.mu.Lock()
		if r.held[s.dpid] {
			r.mu.Unlock()
			if err := waitHeld(ctx); err != nil {
				return err
			}
			continue
		}
		old, ok := r.sess[s.dpid]
		if !ok {
			r.sess[s.dpid] = s
			r.claimedAt[s] = time.Now()
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()

		pctx, cancel := context.WithTimeout(ctx, probe) // a stopping loomd does not wait on it
		err := old.probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			return fmt.Errorf("dpid 0x%016x is already connected from %s and answers echo", s.dpid, old.conn.RemoteAddr())
		}
		old.log.WithError(err).Warn("replacing unresponsive connection: the same datapath connected again")
		old.conn.Close()
		select {
		case <-old.done: // the old session has left the registry
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// markReady publishes s to get and list. Everything s set up before
// (its reconciler, its switch view) happens-before any reader that finds
// it, through r.mu.
func (r *registry) markReady(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sess[s.dpid] == s {
		r.ready[s] = true
	}
}

// release removes s if it still holds its dpid, noting when it left.
func (r *registry) release(s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ready, s)
	delete(r.claimedAt, s)
	if r.sess[s.dpid] == s {
		delete(r.sess, s.dpid)
		r.left[s.dpid] = time.Now()
	}
}

// hold reserves dpid for forgetting it: false when a session holds it
// (or another forget does). Until unhold, a session claiming it waits.
func (r *registry) hold(dpid uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sess[dpid]; ok || r.held[dpid] {
		return false
	}
	r.held[dpid] = true
	return true
}

func (r *registry) unhold(dpid uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.held, dpid)
}

// heldPoll is how often a session claiming a switch being forgotten
// looks again: a forget takes one etcd round trip, or none.
const heldPoll = 20 * time.Millisecond

func waitHeld(ctx context.Context) error {
	t := time.NewTimer(heldPoll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// claimed says whether a session (ready or in setup) holds dpid.
func (r *registry) claimed(dpid uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.sess[dpid]
	return ok
}

// forget drops what the registry remembers of a switch that is gone.
func (r *registry) forget(dpid uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.left, dpid)
}

// awayFor says how long dpid has been disconnected: 0 while connected,
// since start for a switch that has not connected since.
func (r *registry) awayFor(dpid uint64, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sess[dpid]; ok {
		return 0
	}
	if t, ok := r.left[dpid]; ok {
		return now.Sub(t)
	}
	return now.Sub(r.started)
}

// get returns dpid's session once it is ready, else nil.
func (r *registry) get(dpid uint64) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sess[dpid]; r.ready[s] {
		return s
	}
	return nil
}

// list returns the ready sessions.
func (r *registry) list() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.ready))
	for s := range r.ready {
		out = append(out, s)
	}
	return out
}

// setupStuck counts sessions in setup for longer than limit.
func (r *registry) setupStuck(now time.Time, limit time.Duration) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for s, at := range r.claimedAt {
		if !r.ready[s] && now.Sub(at) > limit {
			n++
		}
	}
	return n
}

// settingUp counts sessions that claimed a dpid but are not ready yet.
func (r *registry) settingUp() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sess) - len(r.ready)
}
