package controller

import (
	"testing"

	"github.com/loomsdn/loom/openflow"
)

// A port flooding packet-ins neither crowds another port out of the queue
// nor delays it behind its backlog.
func TestFairQueueServesQuietPortsAmidAFlood(t *testing.T) {
	q := newFairQueue(128, 1024)
	accepted := 0
	for i := 0; i < 10000; i++ {
		if q.push(&openflow.PacketIn{InPort: 1}) {
			accepted++
		}
	}
	if accepted != 128 {
		t.Fatalf("the flooding port got %d slots, want its share of 128", accepted)
	}
	for i := 0; i < 10; i++ {
		if !q.push(&openflow.PacketIn{InPort: 2}) {
			t.Fatalf("a quiet port's packet-in %d was refused during the flood", i)
		}
	}
	quiet := 0
	for i := 0; i < 20; i++ {
		m, ok := q.pop()
		if !ok {
			t.Fatal("queue empty early")
		}
		if m.InPort == 2 {
			quiet++
		}
	}
	if quiet != 10 {
		t.Fatalf("%d of the quiet port's 10 packet-ins served in the first 20, want all (round-robin)", quiet)
	}
	n := 0
	for {
		if _, ok := q.pop(); !ok {
			break
		}
		n++
	}
	if n != 118 || len(q.byPort) != 0 || len(q.order) != 0 {
		t.Fatalf("drained %d more, %d ports left, want 118 and none", n, len(q.byPort))
	}
}

// The total bound holds however many ports send.
func TestFairQueueBoundsTotalAndPorts(t *testing.T) {
	q := newFairQueue(4, 100)
	for p := uint32(0); p < 10000; p++ {
		q.push(&openflow.PacketIn{InPort: p})
	}
	if q.n != 100 || len(q.byPort) != 100 {
		t.Fatalf("%d queued on %d ports, want 100 on 100", q.n, len(q.byPort))
	}
}
