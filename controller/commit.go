package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/store"
)

// StoreError means the store refused a write (disk full, read-only file
// system): nothing was applied, the state is as it was before the call.
type StoreError struct {
	What string // what was being written
	Err  error
}

func (e *StoreError) Error() string {
	if errors.Is(e.Err, store.ErrIndeterminate) {
		// A cluster's etcd that timed out may still commit the write once
		// its quorum is back: saying "nothing changed" would be a lie.
		return fmt.Sprintf("storing %s did not complete (outcome unknown); not applied here yet, but etcd may still commit it when its quorum is back "+
			"(then every instance applies it): read it back before retrying: %v", e.What, e.Err)
	}
	return fmt.Sprintf("storing %s failed, nothing changed: %v", e.What, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// durableWrite is an API change waiting for its commit. Its caller blocks
// until the store has committed it (acknowledged means durable), and only
// then is it applied in memory, so a refused write leaves no trace.
type durableWrite struct {
	change store.DesiredChange
	key    persistKey
	// apply puts the committed change in memory and calls committed under
	// the desired store's lock (see desiredStore.applyDurable).
	apply func(committed func())
	done  chan error // buffered: the persister never waits for the caller
}

// maxGroup bounds the writes one transaction carries, so one commit's
// latency stays bounded however many callers queue; the rest go in the
// next one.
const maxGroup = 4096

// write commits the API's change of o on dpid and only then applies it.
// Callers that arrive while a commit runs share the next one (group
// commit): each caller waits for one fsync, not for everyone's. If ctx
// ends first the error is ctx's and the write may still land, whole.
func (p *persister) write(ctx context.Context, d *desiredStore, dpid uint64, o owner, id flow.AppID, flows []flow.Flow, deleted bool) error {
	w := &durableWrite{
		change: desiredChange(dpid, o, flows, deleted),
		key:    persistKey{dpid, o},
		apply: func(committed func()) {
			d.applyDurable(dpid, o, id, flows, deleted, committed)
		},
		done: make(chan error, 1),
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrShuttingDown
	}
	p.writes = append(p.writes, w)
	p.mu.Unlock()
	p.wake()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// commitWrites commits the queued API writes, maxGroup per transaction,
// and answers their callers: on success after applying each in arrival
// order (the order the transaction wrote them in, so memory and file
// agree when two callers write the same key), on failure with a
// *StoreError and nothing applied. It reports whether a commit succeeded:
// the store takes writes, so a waiting background batch need not wait
// out its retry delay.
func (p *persister) commitWrites() (committed bool) {
	for {
		p.mu.Lock()
		n := min(len(p.writes), maxGroup)
		group := p.writes[:n:n]
		p.writes = p.writes[n:]
		if len(p.writes) == 0 {
			p.writes = nil // do not pin the backing array of a past burst
		}
		p.mu.Unlock()
		if n == 0 {
			return committed
		}
		batch := make([]store.DesiredChange, n)
		for i, w := range group {
			batch[i] = w.change
		}
		start := time.Now()
		if err := p.st.SaveDesired(batch); err != nil {
			p.errs.Add(1)
			// Once per outage at warning level: a client retrying in a
			// loop against a full disk must not fill the log.
			entry := p.log.WithError(err).WithField("writes", n)
			if !p.apiFailing {
				entry.Warn("the store refused API writes; their callers get the error")
			} else {
				entry.Debug("the store refused API writes again")
			}
			p.apiFailing = true
			for _, w := range group {
				w.done <- &StoreError{What: fmt.Sprintf("%s on 0x%016x", w.key.o, w.key.dpid), Err: err}
			}
			continue
		}
		if p.apiFailing {
			p.log.WithField("writes", n).Info("the store takes API writes again")
			p.apiFailing = false
		}
		committed = true
		for _, w := range group {
			w.apply(func() { p.supersede(w.key) })
			w.done <- nil
		}
		p.log.WithField("writes", n).WithField("took", time.Since(start).Round(time.Microsecond)).Debug("API writes committed")
	}
}

// supersede drops the background change to k: the API write just applied
// is newer in memory and already in the file. Called under the desired
// store's lock, before any later change to k can be noted.
func (p *persister) supersede(k persistKey) {
	p.mu.Lock()
	delete(p.pending, k)
	p.mu.Unlock()
}
