package controller

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/cluster/clustertest"
	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// linkStore is an ObservedSharer that fails while told to and records
// what it wrote.
type linkStore struct {
	mu      sync.Mutex
	fail    bool
	written []store.Observed
}

func (s *linkStore) SaveObserved(obs []store.Observed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("etcd away")
	}
	s.written = append(s.written, obs...)
	return nil
}

func (s *linkStore) LoadObserved(kind string, fn func(store.Observed) error) error {
	return fn(store.Observed{Kind: kind, Key: directionKey(topology.Endpoint{DPID: 9, Port: 1}, topology.Endpoint{DPID: 8, Port: 2}), Data: []byte("heard")})
}

func (s *linkStore) writes() []store.Observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Observed(nil), s.written...)
}

type heardLog struct {
	mu  sync.Mutex
	got []string
}

func (h *heardLog) SharedHeard(_ *logrus.Entry, from, to topology.Endpoint, up bool, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, directionKey(from, to)+map[bool]string{true: " up", false: " down"}[up])
}

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

// Directions heard are published for the switches this instance speaks
// for; a failed write is retried with the latest word on each direction;
// what the store already holds reaches discovery at start.
func TestLinkShareRetriesAndHandsOnTheStore(t *testing.T) {
	c, err := New(Config{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := &linkStore{fail: true}
	ls, heard := NewLinkShare(), &heardLog{}
	if err := c.ShareLinks(st, ls, heard); err != nil {
		t.Fatal(err)
	}
	if len(heard.got) != 1 || heard.got[0] != "0x0000000000000009:1>0x0000000000000008:2 up" {
		t.Fatalf("discovery heard %v at start, want the stored direction", heard.got)
	}
	a, b := topology.Endpoint{DPID: 0xa1, Port: 1}, topology.Endpoint{DPID: 0xc1, Port: 5}
	ls.Heard(a, b, true)
	time.Sleep(100 * time.Millisecond) // the first write fails
	ls.Heard(a, b, false)              // a newer word while it waits
	st.mu.Lock()
	st.fail = false
	st.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for len(st.writes()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w := st.writes()
	if len(w) != 1 || w[0].Key != directionKey(a, b) || !w[0].Delete || w[0].DPID != 0xc1 || w[0].Kind != store.ObservedLinks {
		t.Fatalf("written after the store came back: %+v; want the one withdrawal, guarded by 0xc1", w)
	}
	c.SharedObserved(store.Observed{Kind: store.ObservedLinks, Key: "garbage"})
	c.SharedObserved(store.Observed{Kind: store.ObservedLinks, Key: directionKey(b, a), Delete: true})
	if n := len(heard.got); n != 2 || heard.got[1] != directionKey(b, a)+" down" {
		t.Fatalf("discovery heard %v: an unreadable key must be ignored, a deletion passed on", heard.got)
	}
}

// In a cluster nothing is published for a switch this instance does not
// master (here: has no session to).
func TestLinkShareSpeaksOnlyForMasteredSwitches(t *testing.T) {
	c, err := New(Config{Log: quietLog(), Cluster: &clustertest.Static{Self: "me"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := &linkStore{}
	ls := NewLinkShare()
	if err := c.ShareLinks(st, ls, &heardLog{}); err != nil {
		t.Fatal(err)
	}
	ls.Heard(topology.Endpoint{DPID: 0xa1, Port: 1}, topology.Endpoint{DPID: 0xc1, Port: 5}, true)
	time.Sleep(300 * time.Millisecond)
	if w := st.writes(); len(w) != 0 {
		t.Fatalf("published %+v for a switch another instance masters", w)
	}
}

func TestDirectionKeyRoundTrips(t *testing.T) {
	a, b := topology.Endpoint{DPID: 0xa1, Port: 1}, topology.Endpoint{DPID: 0xc1, Port: 5}
	from, to, err := parseDirectionKey(directionKey(a, b))
	if err != nil || from != a || to != b {
		t.Fatalf("parsed %v %v %v", from, to, err)
	}
	for _, bad := range []string{"", "x>y", a.String(), a.String() + ">", ">" + b.String(), "0x00000000000000A1:1>" + b.String()} {
		if _, _, err := parseDirectionKey(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
