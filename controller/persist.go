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
	pending map[persistKey]store.DesiredChange
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

type persistKey struct {
	dpid uint64
	o    owner
}

func newPersister(st store.Store, log *logrus.Entry) *persister {
	p := &persister{st: st, log: log, pending: make(map[persistKey]store.DesiredChange),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *persister) note(dpid uint64, o owner, flows []flow.Flow, deleted bool) {
	c := store.DesiredChange{DPID: dpid, App: o.app, Key: o.key, Delete: deleted}
	for _, f := range flows {
		c.Flows = append(c.Flows, f.String())
	}
	p.mu.Lock()
	p.pending[persistKey{dpid, o}] = c
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
	batch := make([]store.DesiredChange, 0, len(p.pending))
	for _, c := range p.pending {
		batch = append(batch, c)
	}
	p.pending = make(map[persistKey]store.DesiredChange)
	p.mu.Unlock()
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
