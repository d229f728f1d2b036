package discovery

import (
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/topology"
)

// bus is a cluster's shared store of directions as the controller and
// etcd carry it: a direction is written only by the master of the switch
// it came in on, and every write reaches every instance (the writer too).
type bus struct {
	masters map[uint64]*member   // dpid -> its master
	since   map[uint64]time.Time // dpid -> since when (zero: all along)
	members []*member
	now     time.Time
	stored  map[direction]bool
}

type member struct {
	b   *bus
	app *App
	top *topology.Topology
}

func (m *member) Heard(from, to topology.Endpoint, up bool) {
	if m.b.masters[to.DPID] != m {
		return // not its master: the guarded write is not made
	}
	d := direction{from, to}
	if m.b.stored[d] == up {
		return
	}
	m.b.stored[d] = up
	for _, o := range m.b.members {
		o.app.SharedHeard(apptest.New().Log(), from, to, up, m.b.now)
	}
}

// MasterSince implements Sharer.
func (m *member) MasterSince(dpid uint64) (time.Time, bool) {
	return m.b.since[dpid], m.b.masters[dpid] == m
}

// setMaster moves dpid's mastership to m, now.
func (b *bus) setMaster(dpid uint64, m *member) {
	b.masters[dpid], b.since[dpid] = m, b.now
}

func newBus(n int, key []byte) *bus {
	b := &bus{masters: map[uint64]*member{}, since: map[uint64]time.Time{}, stored: map[direction]bool{}, now: time.Unix(1000, 0)}
	for i := 0; i < n; i++ {
		m := &member{b: b, top: topology.New()}
		m.app = New(m.top, time.Second, WithKey(key), SharedWith(m))
		b.members = append(b.members, m)
	}
	return b
}

// hear delivers a probe from (from) arriving at (to) to to's master, as
// a switch sends packet-ins only to its master.
func (b *bus) hear(t *testing.T, from, to topology.Endpoint) {
	t.Helper()
	m := b.masters[to.DPID]
	ctx := apptest.New()
	ctx.T = b.now
	m.app.PacketIn(ctx, apps.PacketIn{DPID: to.DPID, InPort: to.Port,
		Data: buildFrame(m.app.key, [6]byte{2}, from.DPID, from.Port, b.now.UnixNano())})
}

func (b *bus) tick(dpid uint64) {
	for _, m := range b.members {
		ctx := apptest.New()
		ctx.T = b.now
		m.app.Tick(ctx, apps.Switch{DPID: dpid})
	}
}

func linksOf(m *member) []topology.Link { return m.top.Snapshot().Links }

var (
	epA = topology.Endpoint{DPID: 0xa1, Port: 1}
	epC = topology.Endpoint{DPID: 0xc1, Port: 5}
)

// Two switches with two masters: each hears one direction of the link,
// and every instance finds it from what the other published.
func TestLinkBetweenSwitchesOfTwoMastersIsFoundByAll(t *testing.T) {
	b := newBus(3, []byte("the cluster's key"))
	b.masters[0xa1], b.masters[0xc1] = b.members[0], b.members[1]
	b.hear(t, epC, epA) // heard by 0xa1's master alone
	for i, m := range b.members {
		if l := linksOf(m); len(l) != 0 {
			t.Fatalf("instance %d has links %+v after one direction", i, l)
		}
	}
	b.hear(t, epA, epC) // heard by 0xc1's master alone
	want := topology.NewLink(epA, epC)
	for i, m := range b.members {
		if l := linksOf(m); len(l) != 1 || l[0] != want {
			t.Fatalf("instance %d has links %+v, want %v", i, l, want)
		}
	}
	// Probes keep coming both ways: the link stays everywhere.
	for i := 0; i < 6; i++ {
		b.now = b.now.Add(time.Second)
		b.hear(t, epC, epA)
		b.hear(t, epA, epC)
		b.tick(0xa1)
		b.tick(0xc1)
	}
	for i, m := range b.members {
		if l := linksOf(m); len(l) != 1 {
			t.Fatalf("instance %d lost the link while probes still cross: %+v", i, l)
		}
	}
	// The cable is pulled: no more probes. Each master withdraws what it
	// heard; the link goes everywhere within the window.
	for i := 0; i < 4; i++ {
		b.now = b.now.Add(time.Second)
		b.tick(0xa1)
		b.tick(0xc1)
	}
	for i, m := range b.members {
		if l := linksOf(m); len(l) != 0 {
			t.Fatalf("instance %d keeps links %+v after the probes stopped", i, l)
		}
	}
	if len(b.stored) != 2 || b.stored[direction{epA, epC}] || b.stored[direction{epC, epA}] {
		t.Fatalf("shared store after the link went: %+v, want both directions withdrawn", b.stored)
	}
}

// Without one key for the cluster a probe sent by one instance is a
// forgery to the other: this is why the cluster shares it.
func TestProbeOfAnotherKeyIsRefused(t *testing.T) {
	top := topology.New()
	a, other := New(top, time.Second), New(topology.New(), time.Second)
	ctx := apptest.New()
	a.PacketIn(ctx, apps.PacketIn{DPID: 0xa1, InPort: 1, Data: buildFrame(other.key, [6]byte{2}, 0xc1, 5, ctx.T.UnixNano())})
	if a.Rejected("bad HMAC") != 1 {
		t.Fatalf("a probe under another process's key was not refused: %v", a.rejected)
	}
}

// The master of a switch dies with a direction it published: its
// successor, not hearing that probe, withdraws it; hearing it, keeps it.
func TestNewMasterWithdrawsWhatItCannotConfirm(t *testing.T) {
	for _, confirms := range []bool{false, true} {
		b := newBus(3, []byte("k"))
		b.masters[0xa1], b.masters[0xc1] = b.members[0], b.members[1]
		b.hear(t, epC, epA)
		b.hear(t, epA, epC)
		b.setMaster(0xc1, b.members[2]) // members[1] is gone
		b.members = []*member{b.members[0], b.members[2]}
		for i := 0; i < 5; i++ {
			b.now = b.now.Add(time.Second)
			b.hear(t, epC, epA)
			if confirms {
				b.hear(t, epA, epC)
			}
			b.tick(0xc1)
		}
		got := len(linksOf(b.members[0]))
		if confirms && got != 1 || !confirms && got != 0 {
			t.Fatalf("successor confirms=%v: 0xa1's master has %d links", confirms, got)
		}
		if b.stored[direction{epA, epC}] != confirms {
			t.Fatalf("successor confirms=%v: shared direction into 0xc1 stored=%v", confirms, b.stored[direction{epA, epC}])
		}
	}
}
