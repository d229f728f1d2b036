package controller

import (
	"sync"

	"github.com/loomsdn/loom/openflow"
)

// fairQueue holds a switch's packet-ins until its session handles them,
// one FIFO per input port served round-robin, so a port flooding
// packet-ins fills only its own share and cannot starve another port's
// learning. It is bounded twice: perPort per port and total overall (so
// the number of ports with a queue is bounded too); a packet-in over
// either bound is dropped and counted by the caller. Pushed from the
// connection's reader, popped by the session goroutine.
type fairQueue struct {
	mu      sync.Mutex
	byPort  map[uint32][]*openflow.PacketIn
	order   []uint32 // ports with something queued, in service order
	next    int
	n       int
	perPort int
	total   int
	ready   chan struct{} // signalled while something is queued
}

func newFairQueue(perPort, total int) *fairQueue {
	return &fairQueue{byPort: map[uint32][]*openflow.PacketIn{}, perPort: perPort, total: total,
		ready: make(chan struct{}, 1)}
}

// push queues m; false when its port's share or the whole queue is full.
func (q *fairQueue) push(m *openflow.PacketIn) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	pending, had := q.byPort[m.InPort]
	if q.n >= q.total || len(pending) >= q.perPort {
		return false
	}
	if !had {
		q.order = append(q.order, m.InPort)
	}
	q.byPort[m.InPort] = append(pending, m)
	q.n++
	q.signal()
	return true
}

// pop takes the next packet-in, round-robin over ports.
func (q *fairQueue) pop() (*openflow.PacketIn, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil, false
	}
	if q.next >= len(q.order) {
		q.next = 0
	}
	port := q.order[q.next]
	pending := q.byPort[port]
	m := pending[0]
	pending[0] = nil
	if len(pending) == 1 {
		delete(q.byPort, port)
		q.order = append(q.order[:q.next], q.order[q.next+1:]...) // next now names the following port
	} else {
		q.byPort[port] = pending[1:]
		q.next++
	}
	q.n--
	if q.n > 0 {
		q.signal()
	}
	return m, true
}

func (q *fairQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}
