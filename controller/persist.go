package controller

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/store"
)

// persister writes desired-state changes to the store behind the apps'
// backs: a declaration never waits for the disk. Changes to the same
// (switch, app, key) coalesce, so a burst costs one transaction. What a
// kill -9 loses is the last moment's declarations; their flows are still
// in the switches, and the first reconcile after restart removes them
// (the app relearns them on its next packet-in).
type persister struct {
	st  store.Store
	log *logrus.Entry

	mu      sync.Mutex
	pending map[persistKey]pendingChange
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
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

func newPersister(st store.Store, log *logrus.Entry) *persister {
	p := &persister{st: st, log: log, pending: make(map[persistKey]pendingChange),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *persister) note(dpid uint64, o owner, flows []flow.Flow, deleted bool) {
	p.mu.Lock()
	p.pending[persistKey{dpid, o}] = pendingChange{flows: flows, deleted: deleted}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	defer close(p.done)
	for {
		select {
		case <-p.kick:
			p.flush()
		case <-p.stop:
			p.flush()
			return
		}
	}
}

func (p *persister) flush() {
	p.mu.Lock()
	pending := p.pending
	p.pending = make(map[persistKey]pendingChange)
	p.mu.Unlock()
	batch := make([]store.DesiredChange, 0, len(pending))
	for k, c := range pending {
		ch := store.DesiredChange{DPID: k.dpid, App: k.o.app, Key: k.o.key, Delete: c.deleted}
		for _, f := range c.flows {
			ch.Flows = append(ch.Flows, f.String())
		}
		batch = append(batch, ch)
	}
	if len(batch) == 0 {
		return
	}
	start := time.Now()
	if err := p.st.SaveDesired(batch); err != nil {
		p.log.WithError(err).WithField("changes", len(batch)).Error("persisting the desired state failed; it will be rebuilt by the apps")
		return
	}
	p.log.WithFields(logrus.Fields{"changes": len(batch), "took": time.Since(start).Round(time.Microsecond)}).Debug("desired state persisted")
}

// close writes what is pending and stops.
func (p *persister) close() {
	close(p.stop)
	<-p.done
}
