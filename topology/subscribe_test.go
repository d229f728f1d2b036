package topology

import (
	"fmt"
	"testing"
)

func manyPorts(n int) []OFPort {
	ports := make([]OFPort, n)
	for i := range ports {
		ports[i] = OFPort{No: uint32(i + 1), Name: fmt.Sprintf("p%d", i+1), Up: true}
	}
	return ports
}

// A subscriber that cannot take a whole commit is dropped once: its
// channel is closed, nothing is sent to it after, and the others still get
// every event. (It used to be closed and then sent to: a panic.)
func TestLaggingSubscriberDroppedWithoutPanic(t *testing.T) {
	top := New()
	slow, cancelSlow := top.Subscribe(1)
	defer cancelSlow()
	fast, cancelFast := top.Subscribe(4096)
	defer cancelFast()

	top.SwitchConnected(0xa, "r", manyPorts(5)) // 6 events in one commit
	got := 0
	for range slow {
		got++
	}
	if got != 0 {
		t.Fatalf("slow subscriber got %d events of a commit it could not hold whole", got)
	}
	if n := len(fast); n != 6 {
		t.Fatalf("fast subscriber got %d events, want 6", n)
	}
	if top.Dropped() != 1 {
		t.Fatalf("dropped %d subscribers, want 1", top.Dropped())
	}
	top.SwitchConnected(0xb, "r", manyPorts(2)) // must not send to the closed channel
	cancelSlow()                                // nor close it twice
}

// A switch with more ports than a subscriber's buffer.
func TestSwitchWithMorePortsThanBuffer(t *testing.T) {
	top := New()
	ch, cancel := top.Subscribe(1024)
	defer cancel()
	top.SwitchConnected(0xa, "r", manyPorts(1500))
	if _, ok := <-ch; ok {
		t.Fatal("a subscriber whose buffer is smaller than the commit was kept")
	}
	if n := len(top.Ports(0xa)); n != 1500 {
		t.Fatalf("%d ports in the model", n)
	}
}

// A panic inside an update leaves the model unlocked.
func TestPanicInUpdateReleasesLock(t *testing.T) {
	top := New()
	func() {
		defer func() { _ = recover() }()
		top.update(func(*inputs) bool { panic("boom") })
	}()
	top.SwitchConnected(0xa, "r", manyPorts(1)) // would deadlock
	if n := len(top.Snapshot().Ports); n != 1 {
		t.Fatalf("%d ports", n)
	}
}

// Snapshot is a deep copy: changing it changes nothing in the model.
func TestSnapshotIsACopy(t *testing.T) {
	top := New()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "centos01_port1", Up: true}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", hvView(), nil)
	s := top.Snapshot()
	s.Ports[0].VM.MAC = "changed"
	s.Switches[0].Bridge = "changed"
	again := top.Snapshot()
	if again.Ports[0].VM.MAC == "changed" || again.Switches[0].Bridge == "changed" {
		t.Fatalf("snapshot shares memory with the model: %+v", again.Ports[0])
	}
}
