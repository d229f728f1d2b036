package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/group"
	"github.com/loomsdn/loom/store"
)

// persister is the one goroutine that writes the desired state to the
// store. It carries two kinds of change:
//
//   - the apps' declarations, written behind their backs (a declaration
//     never waits for the disk). Changes to the same (switch, app, key)
//     coalesce, so a burst costs one transaction, and a batch the store
//     refuses is merged back and retried until it is written: a full disk
//     delays the apps' state, it never drops it. What a kill -9 loses is
//     the last moment's declarations; their flows are still in the
//     switches, and the first reconcile after restart removes them (the
//     app relearns them on its next packet-in).
//   - API writes (commit.go), whose callers wait for the commit.
//
// One goroutine for both keeps the file in the order memory changed: an
// app's older value for a key can never be written over an API write
// that superseded it.
type persister struct {
	st  store.Store
	log *logrus.Entry

	mu      sync.Mutex
	pending map[persistKey]pendingChange
	writes  []*durableWrite // API writes waiting for the next commit
	closed  bool
	// inflight is the background changes being written now: still part
	// of the backlog until the commit returns.
	inflight int
	// failing is the store's error while background changes wait for a
	// retry, nil once they are written.
	failing error
	// failures counts failed writes, so sync tells its own from earlier ones.
	failures uint64

	// noted counts background changes noted; written is the count up to
	// which they are on disk (a batch taken at noted N, once committed,
	// makes written N). synced is closed and replaced at each commit.
	noted, written uint64
	synced         chan struct{}

	errs atomic.Uint64 // failed commits, both kinds
	// apiFailing says the last API commit failed; the persister's
	// goroutine alone uses it (to log an outage once).
	apiFailing bool

	kick chan struct{}
	// jobs owns the persister's goroutine: close cancels it and waits
	// until it has written the backlog.
	jobs *group.Group
	done chan struct{} // closed when the goroutine has stopped
}

type persistKey struct {
	dpid uint64
	o    owner
}

// pendingChange keeps the flows as values: they are formatted on the
// persister's goroutine, off the declaring app's path.
type pendingChange struct {
	flows   []flow.Flow
	deleted bool
}

// Retry pacing of a background batch the store refused: soon (a disk
// full for a moment), then no faster than retryMax (a disk full for good
// should not fill the log).
const (
	retryMin = 50 * time.Millisecond //nolint:revive // time-naming: Min is minimum (beside retryMax), not minutes
	retryMax = 5 * time.Second
)

// closeRetries bounds the attempts to write the backlog at shutdown: a
// store that refuses it must not hold loomd's exit forever.
const closeRetries = 3

func newPersister(st store.Store, log *logrus.Entry) *persister {
	p := &persister{st: st, log: log, pending: make(map[persistKey]pendingChange), synced: make(chan struct{}),
		kick: make(chan struct{}, 1), done: make(chan struct{}), jobs: group.New(context.Background(), log)}
	p.jobs.Go("persister", p.run)
	return p
}

// note records an app's change for the background write. The desired
// store calls it under its lock, so it must stay cheap and never block.
func (p *persister) note(dpid uint64, o owner, flows []flow.Flow, deleted bool) {
	p.mu.Lock()
	p.pending[persistKey{dpid, o}] = pendingChange{flows: flows, deleted: deleted}
	p.noted++
	p.mu.Unlock()
	p.wake()
}

// sync waits until every background change noted before the call is on
// disk: for API calls (forgetting a switch) whose effect goes through the
// apps' path but whose caller is told it is done. An error is the store's
// (the changes wait and are retried) or ctx's.
func (p *persister) sync(ctx context.Context) error {
	p.mu.Lock()
	target, failures := p.noted, p.failures
	p.mu.Unlock()
	p.wake()
	for {
		p.mu.Lock()
		done, synced := p.written >= target, p.synced
		// Only a write that failed after this call began speaks for it: a
		// failure from before may be one whose retry has just landed (its
		// changes are on disk) but not yet cleared the flag.
		var failing error
		if p.failures != failures {
			failing = p.failing
		}
		p.mu.Unlock()
		if done {
			return nil
		}
		if failing != nil {
			return &StoreError{What: "the change", Err: failing}
		}
		select {
		case <-synced:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return ErrShuttingDown
		}
	}
}

func (p *persister) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run writes until ctx ends (close), then writes what is left.
func (p *persister) run(ctx context.Context) {
	defer close(p.done)
	retry := time.NewTimer(0)
	<-retry.C
	backoff := time.Duration(0)
	var notBefore time.Time // background writes wait for this after a failure
	for {
		select {
		case <-p.kick:
		case <-retry.C:
		case <-ctx.Done():
			p.commitWrites()
			p.drain()
			return
		}
		// API writes first: their callers are waiting.
		if p.commitWrites() {
			notBefore = time.Time{} // the store takes writes: retry the backlog now
		}
		if time.Now().Before(notBefore) {
			continue // the timer is set; an API write's kick must not hurry a retry
		}
		if p.flush() {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, retryMin), retryMax)
		notBefore = time.Now().Add(backoff)
		retry.Reset(backoff)
	}
}

// flush writes the background changes in one transaction and reports
// whether the store took them (true when there were none). A refused
// batch goes back into pending, under any newer change to the same key.
func (p *persister) flush() bool {
	p.mu.Lock()
	pending := p.pending
	p.pending = make(map[persistKey]pendingChange)
	p.inflight = len(pending)
	upTo := p.noted
	p.mu.Unlock()
	if len(pending) == 0 {
		p.setFailing(nil)
		p.markWritten(upTo)
		return true
	}
	batch := make([]store.DesiredChange, 0, len(pending))
	for k, c := range pending {
		batch = append(batch, desiredChange(k.dpid, k.o, c.flows, c.deleted))
	}
	start := time.Now()
	err := p.st.SaveDesired(batch)
	p.mu.Lock()
	p.inflight = 0
	if err != nil {
		for k, c := range pending {
			if _, newer := p.pending[k]; !newer {
				p.pending[k] = c
			}
		}
	}
	backlog := len(p.pending)
	p.mu.Unlock()
	if err != nil {
		p.errs.Add(1)
		first := p.setFailing(err)
		p.markWritten(0) // wakes sync's waiters: they see the failure
		entry := p.log.WithError(err).WithField("backlog", backlog)
		if first {
			entry.Error("persisting the desired state failed; retrying until the store takes it")
		} else {
			entry.Debug("persisting the desired state failed again")
		}
		return false
	}
	if p.setFailing(nil) {
		p.log.WithField("changes", len(batch)).Info("the store takes the desired state again; the backlog is written")
	}
	p.markWritten(upTo)
	p.log.WithFields(logrus.Fields{"changes": len(batch), "took": time.Since(start).Round(time.Microsecond)}).Debug("desired state persisted")
	return true
}

// markWritten records that the changes noted up to n are on disk (0:
// nothing new), and wakes sync's waiters.
func (p *persister) markWritten(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.written = max(p.written, n)
	close(p.synced)
	p.synced = make(chan struct{})
}

// setFailing records the store's state and reports whether it changed
// between failing and not.
func (p *persister) setFailing(err error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := (p.failing == nil) != (err == nil)
	p.failing = err
	if err != nil {
		p.failures++
	}
	return changed
}

// desiredChange is a change in the store's form.
func desiredChange(dpid uint64, o owner, flows []flow.Flow, deleted bool) store.DesiredChange {
	ch := store.DesiredChange{DPID: dpid, App: o.app, Key: o.key, Delete: deleted}
	for _, f := range flows {
		ch.Flows = append(ch.Flows, f.String())
	}
	return ch
}

// drain writes the backlog at shutdown, retrying a few times; what the
// store still refuses is logged as lost (the apps relearn it).
func (p *persister) drain() {
	for i := 0; i < closeRetries; i++ {
		if p.flush() {
			return
		}
		time.Sleep(retryMin << i)
	}
	p.log.WithField("changes", p.backlog()).Error("the store refused the desired state until shutdown; these changes are lost (the apps relearn them)")
}

// backlog is how many background changes are not yet written.
func (p *persister) backlog() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending) + p.inflight
}

// state is the backlog with the error that holds it up (nil when the
// store is not failing).
func (p *persister) state() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending) + p.inflight, p.failing
}

// close writes what is pending, stops, and returns once the persister's
// goroutine has ended (idempotent). API writes that arrive later fail
// with ErrShuttingDown. The wait is not bounded here: the backlog is
// written with at most closeRetries attempts, and the database must not
// be closed under a write in progress; a store call that hangs outright
// is loomd's shutdown watchdog's to end.
func (p *persister) close() {
	p.mu.Lock()
	p.closed = true // before the cancel: a write that gets in is in the last commit
	p.mu.Unlock()
	p.jobs.Close()
}
