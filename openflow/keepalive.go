package openflow

import (
	"fmt"
	"sync"
	"time"
)

// keepalives watches every served connection from one goroutine: a quiet
// peer gets an echo after one interval of silence and is closed after
// two. One ticker for all switches, not one goroutine and timer each: an
// idle switch costs a map entry here.
var keepalives = &prober{conns: map[*Conn]*quiet{}}

// prober owns the set of watched connections and the goroutine that
// checks them; the goroutine runs while the set is not empty.
type prober struct {
	mu     sync.Mutex
	conns  map[*Conn]*quiet
	tick   time.Duration // the period of the running loop; 0 when none runs
	retune chan struct{} // asks the loop for a shorter tick
}

// quiet is what the prober knows of one connection: the message count it
// last saw, since when that count has not moved, and whether it probed.
type quiet struct {
	seen   uint64
	since  time.Time
	probed bool
}

// tickFor is how often a connection with echo interval iv is checked.
func tickFor(iv time.Duration) time.Duration { return max(iv/10, time.Millisecond) }

// add starts watching c.
func (p *prober) add(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = &quiet{seen: c.received.Load(), since: time.Now()}
	want := tickFor(c.cfg.EchoInterval)
	switch {
	case p.tick == 0:
		p.tick, p.retune = want, make(chan struct{}, 1)
		go p.loop(want, p.retune)
	case want < p.tick:
		p.tick = want
		p.nudge()
	}
}

// remove stops watching c.
func (p *prober) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if len(p.conns) == 0 && p.tick != 0 {
		p.nudge() // the loop ends now, not at its next tick
	}
}

// nudge wakes the loop to look at the set and its tick again; p.mu held.
func (p *prober) nudge() {
	select {
	case p.retune <- struct{}{}:
	default:
	}
}

func (p *prober) loop(tick time.Duration, retune <-chan struct{}) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-retune:
			if !p.retuned(t) {
				return
			}
		case now := <-t.C:
			if !p.check(now) {
				return
			}
		}
	}
}

// retuned sets the ticker to the wanted tick; false when no connection
// is left, and the loop has been marked ended.
func (p *prober) retuned(t *time.Ticker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) == 0 {
		p.tick = 0
		return false
	}
	t.Reset(p.tick)
	return true
}

// check looks at every connection once; false when none is left, and the
// loop has been marked ended (under the lock, so add starts a new one).
func (p *prober) check(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) == 0 {
		p.tick = 0
		return false
	}
	for c, q := range p.conns {
		if n := c.received.Load(); n != q.seen {
			q.seen, q.since, q.probed = n, now, false
			continue
		}
		iv := c.cfg.EchoInterval
		idle := now.Sub(q.since)
		switch {
		case idle >= 2*iv:
			delete(p.conns, c)
			// Not here: closing flushes the writer, which may wait on a
			// stuck peer for the write timeout, and this loop serves all.
			go c.closeWith(fmt.Errorf("%w for %v (echo interval %v)", ErrPeerSilent, idle.Round(time.Millisecond), iv))
		case idle >= iv && !q.probed:
			q.probed = true
			go func() { _, _ = c.Send(EchoMsg{}) }() // the same: a send may wait on the peer; silence is what counts
		}
	}
	return true
}
