package controller

import (
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/discovery"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// guardStore is an ObservedSharer whose guard says "not master" while
// told to: the write is dropped and SaveObserved says so
// (store.ErrNotMaster), as store.Etcd's does (Node.Guard is false while
// the instance's lease is late, for a moment, though it stays the
// switch's master). It used to drop without a word.
type guardStore struct {
	mu      sync.Mutex
	drop    bool
	written map[string]bool
}

func (s *guardStore) SaveObserved(obs []store.Observed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drop {
		return store.ErrNotMaster
	}
	for _, o := range obs {
		s.written[o.Key] = !o.Delete
	}
	return nil
}

func (s *guardStore) LoadObserved(string, func(store.Observed) error) error { return nil }

func (s *guardStore) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written[k]
}

// Found by attack: discovery hands a direction to the LinkShare only the
// first time it hears it (PacketIn: `if !had`). When that one write is
// dropped by the store's guard (a lease blip, a mastership that moved
// and came back), nothing ever publishes it again while the probes keep
// it fresh: the other instances never learn the direction, and the link
// is missing from every instance but this one for as long as it stands.
func TestAttackDroppedDirectionIsNeverRepublished(t *testing.T) {
	c, err := New(Config{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := &guardStore{drop: true, written: map[string]bool{}}
	ls := NewLinkShare()
	every := time.Second
	app := discovery.New(topology.New(), every, discovery.WithKey([]byte("the cluster's key")), discovery.SharedWith(ls))
	if err := c.ShareLinks(st, ls, app); err != nil {
		t.Fatal(err)
	}
	from, to := topology.Endpoint{DPID: 0xc1, Port: 5}, topology.Endpoint{DPID: 0xa1, Port: 1}
	now := time.Unix(1000, 0)
	probe := func() {
		ctx := apptest.New()
		ctx.T = now
		app.Tick(ctx, apps.Switch{DPID: from.DPID, Ports: []apps.Port{{No: from.Port, Up: true}}})
		if len(ctx.Outs) != 1 {
			t.Fatalf("probes sent: %d", len(ctx.Outs))
		}
		app.PacketIn(ctx, apps.PacketIn{DPID: to.DPID, InPort: to.Port, Data: ctx.Outs[0].Data})
		app.Tick(ctx, apps.Switch{DPID: to.DPID, Ports: []apps.Port{{No: to.Port, Up: true}}})
	}
	probe()
	time.Sleep(200 * time.Millisecond) // published, and dropped by the guard
	st.mu.Lock()
	st.drop = false // the guard holds again: this instance is still 0xa1's master
	st.mu.Unlock()
	for i := 0; i < 10; i++ { // probes keep crossing for ten periods
		now = now.Add(every)
		probe()
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if k := directionKey(from, to); !st.has(k) {
		t.Fatalf("%s heard every period for 10 periods, yet never published after its first write was dropped", k)
	}
}
