package controller

import (
	"sync"

	"github.com/loomsdn/loom/openflow"
)

// portQueue holds a switch's port-status messages until its session
// handles them, coalesced per port: only each port's latest state waits,
// so the connection's reader never blocks on them (a switch adding and
// deleting one port 100,000 times costs one entry, and its echo replies
// and request replies are still read), and what is handled is what the
// port is now. Pushed from the reader, popped by the session goroutine.
type portQueue struct {
	mu     sync.Mutex
	latest map[uint32]*openflow.PortStatus
	order  []uint32
	ready  chan struct{}
	limit  int
}

func newPortQueue(limit int) *portQueue {
	return &portQueue{latest: map[uint32]*openflow.PortStatus{}, ready: make(chan struct{}, 1), limit: limit}
}

// push records m as its port's latest state; false when more than limit
// ports are waiting (a switch no real hypervisor is: the caller ends it).
func (q *portQueue) push(m *openflow.PortStatus) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	prev, had := q.latest[m.Port.No]
	if !had {
		if len(q.latest) >= q.limit {
			return false
		}
		q.order = append(q.order, m.Port.No)
	}
	// A port added and changed before Loom saw it is still an add; one
	// deleted and added again is a change of the port Loom knew.
	if had && prev.Reason == openflow.PortReasonAdd && m.Reason == openflow.PortReasonModify {
		m.Reason = openflow.PortReasonAdd
	}
	if had && prev.Reason == openflow.PortReasonDelete && m.Reason == openflow.PortReasonAdd {
		m.Reason = openflow.PortReasonModify
	}
	q.latest[m.Port.No] = m
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pop takes the oldest waiting port's latest state.
func (q *portQueue) pop() (*openflow.PortStatus, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return nil, false
	}
	no := q.order[0]
	q.order = q.order[1:]
	m := q.latest[no]
	delete(q.latest, no)
	if len(q.order) > 0 {
		select {
		case q.ready <- struct{}{}:
		default:
		}
	} else {
		q.order = nil // release the backing array after a storm
	}
	return m, true
}
