package controller

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// registry maps datapath ids to their live session.
type registry struct {
	mu      sync.Mutex
	sess    map[uint64]*session
	left    map[uint64]time.Time // when each switch last disconnected
	started time.Time
}

func newRegistry() *registry {
	return &registry{sess: make(map[uint64]*session), left: make(map[uint64]time.Time), started: time.Now()}
}

// claim registers s for its dpid. A live session already holding the dpid
// keeps it: the newcomer is refused. Only when the holder fails an echo
// probe within probe is it closed and replaced, so a switch that restarted
// behind a half-open TCP connection gets back in, while a second
// connection claiming a live switch's identity never kicks it off.
func (r *registry) claim(s *session, probe time.Duration) error {
	for {
		r.mu.Lock()
		old, ok := r.sess[s.dpid]
		if !ok {
			r.sess[s.dpid] = s
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), probe)
		err := old.probe(ctx)
		cancel()
		if err == nil {
			return fmt.Errorf("dpid 0x%016x is already connected from %s and answers echo", s.dpid, old.conn.RemoteAddr())
		}
		old.log.WithError(err).Warn("replacing unresponsive connection: the same datapath connected again")
		old.conn.Close()
		<-old.done // the old session has left the registry
	}
}

// release removes s if it still holds its dpid, noting when it left.
func (r *registry) release(s *session) {
	r.mu.Lock()
	if r.sess[s.dpid] == s {
		delete(r.sess, s.dpid)
		r.left[s.dpid] = time.Now()
	}
	r.mu.Unlock()
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

func (r *registry) get(dpid uint64) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sess[dpid]
}

func (r *registry) list() []*session {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*session, 0, len(r.sess))
	for _, s := range r.sess {
		out = append(out, s)
	}
	return out
}
