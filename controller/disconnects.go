package controller

import (
	"context"
	"sync"

	"github.com/loomsdn/loom/topology"
)

// disconnects hands the topology the switches whose sessions ended, in
// batches, from one goroutine: a session never waits on the model's lock
// to end. When hundreds end at once (a storm's churn, just before a
// shutdown) they cost one hold of the lock, not hundreds of hand-overs
// between goroutines competing for two cores.
type disconnects struct {
	mu      sync.Mutex
	pending map[uint64]uint64 // dpid -> its connection's token
	kick    chan struct{}
}

func newDisconnects() *disconnects {
	return &disconnects{pending: map[uint64]uint64{}, kick: make(chan struct{}, 1)}
}

// add queues dpid's disconnect (its connection's token); it never blocks.
func (d *disconnects) add(dpid, token uint64) {
	d.mu.Lock()
	d.pending[dpid] = token
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// run applies the queued disconnects until ctx ends.
func (d *disconnects) run(ctx context.Context, top *topology.Topology) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		}
		d.mu.Lock()
		batch := d.pending
		d.pending = map[uint64]uint64{}
		d.mu.Unlock()
		top.SwitchesDisconnected(batch)
	}
}
