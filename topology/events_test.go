package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/eventlog"
)

func manyPorts(n int) []OFPort {
	ports := make([]OFPort, n)
	for i := range ports {
		ports[i] = OFPort{No: uint32(i + 1), Name: fmt.Sprintf("p%d", i+1), Up: true}
	}
	return ports
}

// readAll reads everything a cursor has now, failing the test on an
// error.
func readAll(t *testing.T, c *Cursor) []Event {
	t.Helper()
	var all []Event
	for {
		events, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			return all
		}
		if len(events) > eventlog.ReadBatch {
			t.Fatalf("one read returned %d events, more than %d", len(events), eventlog.ReadBatch)
		}
		all = append(all, events...)
	}
}

// Readers that never read hold nothing of the model's: commits go on,
// and every other reader still gets every event. (Each reader used to
// have a channel filled under the model's lock, closed when it lagged; a
// close followed by a send was a panic.)
func TestStalledReadersCostCommitsNothing(t *testing.T) {
	top := New()
	for i := 0; i < 1000; i++ {
		top.Follow() // never read
	}
	reader := top.Follow()
	for d := uint64(1); d <= 50; d++ {
		top.SwitchConnected(d, "r", manyPorts(4)) // 5 events each
	}
	if n := len(readAll(t, reader)); n != 250 {
		t.Fatalf("reader got %d events, want 250", n)
	}
	if top.FellBehind() != 0 {
		t.Fatalf("%d reads fell behind", top.FellBehind())
	}
}

// A reader more than the log behind is told so, and counted.
func TestCursorBehindTheLogFails(t *testing.T) {
	top := New()
	top.log = eventlog.New(5, func(e Event) uint64 { return e.Revision })
	cur := top.Follow()
	for i := uint64(1); i <= 20; i++ { // the log holds up to twice keep
		top.SwitchConnected(i, "r", nil)
	}
	if _, err := cur.Read(); !errors.Is(err, ErrFellBehind) {
		t.Fatalf("got %v, want ErrFellBehind", err)
	}
	if top.FellBehind() != 1 {
		t.Fatalf("FellBehind %d, want 1", top.FellBehind())
	}
}

// One commit larger than the log reaches a reader whole.
func TestCommitLargerThanTheLog(t *testing.T) {
	top := New()
	top.log = eventlog.New(100, func(e Event) uint64 { return e.Revision })
	cur := top.Follow()
	top.SwitchConnected(0xa, "r", manyPorts(1500))
	if n := len(readAll(t, cur)); n != 1501 {
		t.Fatalf("read %d events of a 1501-event commit", n)
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

func TestWatchResumesWithoutGapsOrRepeats(t *testing.T) {
	top := New()
	for i := uint64(1); i <= 5; i++ {
		top.SwitchConnected(i, "r", nil)
	}
	cur, err := top.Watch(2)
	if err != nil {
		t.Fatal(err)
	}
	replay := readAll(t, cur)
	if len(replay) != 3 || replay[0].Revision != 3 || replay[2].Revision != 5 {
		t.Fatalf("replay %+v, want revisions 3..5", replay)
	}
	top.SwitchConnected(6, "r", nil)
	<-cur.Ready()
	if live := readAll(t, cur); len(live) != 1 || live[0].Revision != 6 {
		t.Fatalf("live events %+v, want one of revision 6", live)
	}
	if now, err := top.Watch(0); err != nil || len(readAll(t, now)) != 0 {
		t.Fatalf("watch from now replayed, or %v", err)
	}
	if _, err := top.Watch(7); err == nil {
		t.Fatal("a watch from a revision ahead of the model was accepted")
	}
}

func TestWatchFromAForgottenRevisionFails(t *testing.T) {
	top := New()
	top.log = eventlog.New(5, func(e Event) uint64 { return e.Revision })
	for i := 0; i < 20; i++ { // the log holds up to twice keep
		top.SwitchConnected(uint64(i+1), "r", nil)
	}
	if _, err := top.Watch(1); !errors.Is(err, ErrRevisionGone) {
		t.Fatalf("got %v, want ErrRevisionGone", err)
	}
}

// Kinds and keys are on the wire (TopologyEvent.key, the JSON "kind"), so
// their form is pinned here; and each kind carries the object type its
// constant documents, which callers' type switches rely on.
func TestEventKindsAndKeysKeepTheirForm(t *testing.T) {
	top := New()
	cur := top.Follow()
	top.SetHypervisors([]Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.SwitchConnected(0xc1, "192.0.2.10:40000", []OFPort{{No: 1, Name: "p1", Up: true}})
	top.SetLink(NewLink(Endpoint{0xc2, 3}, Endpoint{0xc1, 1}), true)
	top.HostSeen("02:00:00:00:00:01", 0xc1, 1, "", time.Unix(1, 0))
	want := map[ObjectKind]struct {
		key, json string
		object    any
	}{
		KindHypervisor: {"kvm01", "hypervisor", Hypervisor{}},
		KindSwitch:     {"0x00000000000000c1", "switch", Switch{}},
		KindPort:       {"0x00000000000000c1:1", "port", Port{}},
		KindLink:       {"0x00000000000000c1:1-0x00000000000000c2:3", "link", Link{}},
		KindHost:       {"02:00:00:00:00:01", "host", Host{}},
	}
	seen := map[ObjectKind]bool{}
	for _, e := range readAll(t, cur) {
		w, ok := want[e.Kind]
		if !ok {
			t.Fatalf("event of unknown kind %q", e.Kind)
		}
		seen[e.Kind] = true
		if e.Key != w.key {
			t.Errorf("%s key %q, want %q", e.Kind, e.Key, w.key)
		}
		if reflect.TypeOf(e.Object) != reflect.TypeOf(w.object) {
			t.Errorf("%s event carries a %T, want a %T", e.Kind, e.Object, w.object)
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"kind":"`+w.json+`"`) {
			t.Errorf("%s event's JSON %s lacks kind %q", e.Kind, b, w.json)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("saw kinds %v, want all of %d", seen, len(want))
	}
}
