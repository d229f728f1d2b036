package discovery

import (
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/topology"
)

// Found by attack: orphans counts the window from when this instance
// first knew a shared direction, not from when it became the switch's
// master. A slave never hears the switch's packet-ins, so at its first
// Tick as master (a planned handover, a rebalance) every direction into
// the switch is "not heard since the cutoff" and is withdrawn for the
// whole cluster before the neighbours' next probe can confirm it: each
// link into the switch goes down everywhere and comes back a period
// later, though probes never stopped crossing.
func TestAttackTakeoverFlapsLinksIntoTheSwitch(t *testing.T) {
	b := newBus(3, []byte("k"))
	b.masters[0xa1], b.masters[0xc1] = b.members[0], b.members[1]
	b.hear(t, epC, epA)
	b.hear(t, epA, epC)
	for i := 0; i < 5; i++ { // the link is old: every instance knew it before the cutoff
		b.now = b.now.Add(time.Second)
		b.hear(t, epC, epA)
		b.hear(t, epA, epC)
		b.tick(0xa1)
		b.tick(0xc1)
	}
	// members[0] hands 0xa1 over to members[2] (both alive, the cable
	// untouched); the new master's first Tick comes before 0xc1's master
	// probes again.
	b.setMaster(0xa1, b.members[2])
	b.now = b.now.Add(100 * time.Millisecond)
	b.tick(0xa1)
	for i, m := range b.members {
		if l := linksOf(m); len(l) != 1 {
			t.Errorf("instance %d has links %+v right after 0xa1 changed master: the link flapped", i, l)
		}
	}
	if !b.stored[direction{epC, epA}] {
		t.Errorf("the new master of 0xa1 withdrew %v->%v at its first tick, before any probe could confirm it", epC, epA)
	}
}

// Found by attack: discovery keeps what it heard into a switch after the
// switch is gone. SwitchDown drops the links but not the heard
// directions, only Tick(dpid) expires them (and it never runs again for
// a switch that left), and discovery is no apps.Forgetter, so forgetting
// the switch (the API, aging, maxAwaySwitches) leaves them too. Every
// datapath id that ever connected and heard a probe stays in a.heard for
// the life of the process (anyone may connect with a made-up one, and a
// switch with n ports can reflect its own probes into n*n directions).
func TestAttackHeardDirectionsOfAGoneSwitchStayForever(t *testing.T) {
	b := newBus(2, []byte("k"))
	b.masters[0xa1], b.masters[0xc1] = b.members[0], b.members[1]
	b.hear(t, epC, epA)
	b.hear(t, epA, epC)
	m := b.members[0]
	// 0xa1 leaves for good and is forgotten everywhere.
	for _, o := range b.members {
		o.app.SwitchDown(apptest.New(), 0xa1)
		if f, ok := any(o.app).(apps.Forgetter); ok {
			f.ForgetSwitch(0xa1)
		}
	}
	for i := 0; i < 20; i++ { // the rest of the network lives on
		b.now = b.now.Add(time.Second)
		b.tick(0xc1)
	}
	m.app.mu.Lock()
	var left []direction
	for d := range m.app.heard {
		if d[1].DPID == 0xa1 || d[0].DPID == 0xa1 {
			left = append(left, d)
		}
	}
	m.app.mu.Unlock()
	if len(left) != 0 {
		t.Errorf("0xa1's master still holds %v, 20 periods after the switch left and was forgotten", left)
	}
}

// downStore is a Sharer whose writes never land (etcd unreachable): no
// echo comes back through the watch.
type downStore struct{}

func (downStore) Heard(from, to topology.Endpoint, up bool) {}

// MasterSince: this instance has mastered both ends all along.
func (downStore) MasterSince(uint64) (time.Time, bool) { return time.Time{}, true }

// Found by attack: bothWays counts a shared direction with no age, and
// that includes this instance's own publications, echoed back by the
// watch. When the probes stop (a cable pulled behind ports that stay up)
// Tick withdraws the directions, but the link is only dropped once the
// withdrawal's echo removes them from a.shared. With etcd unreachable
// the echo never comes: the master of both ends, which itself saw the
// probes stop, keeps the dead link (and every flow over it) for as long
// as etcd is away.
func TestAttackOwnStalePublicationKeepsDeadLinkWhileEtcdIsDown(t *testing.T) {
	top := topology.New()
	a := New(top, time.Second, WithKey([]byte("k")), SharedWith(downStore{}))
	now := time.Unix(1000, 0)
	hear := func(from, to topology.Endpoint) {
		ctx := apptest.New()
		ctx.T = now
		a.PacketIn(ctx, apps.PacketIn{DPID: to.DPID, InPort: to.Port,
			Data: buildFrame(a.key, [6]byte{2}, from.DPID, from.Port, now.UnixNano())})
	}
	hear(epC, epA)
	hear(epA, epC)
	// While etcd was up, the watch echoed both publications back.
	a.SharedHeard(apptest.New().Log(), epC, epA, true, now)
	a.SharedHeard(apptest.New().Log(), epA, epC, true, now)
	if len(top.Snapshot().Links) != 1 {
		t.Fatal("test premise: no link")
	}
	// etcd goes away; the cable is pulled. Ten periods pass.
	for i := 0; i < 10; i++ {
		now = now.Add(time.Second)
		for _, d := range []uint64{0xa1, 0xc1} {
			ctx := apptest.New()
			ctx.T = now
			a.Tick(ctx, apps.Switch{DPID: d})
		}
	}
	if l := top.Snapshot().Links; len(l) != 0 {
		t.Errorf("no probe either way for 10 periods, heard only by this instance, yet link %+v stays", l)
	}
}
