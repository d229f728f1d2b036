package controller

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/topology"
)

// blockingForgetter is a shared store whose ForgetSwitch (the etcd
// round trip) holds until released, as a slow or distant etcd does.
type blockingForgetter struct {
	*sharedMem
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingForgetter) ForgetSwitch(ctx context.Context, dpid uint64, all bool) (int, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return 0, nil // etcd's compare passed: no reach key yet when the txn ran
}

// Found by attack, fixed: Controller.ForgetSwitch checked that the
// switch was not connected once, before forgetShared's etcd round trip,
// and then forgot it locally regardless. A switch that reconnected
// meanwhile (or whose reach key etcd had not seen when the txn's compare
// ran) was wiped while connected: its topology entry (ports, links) and
// every declaration its apps made at SwitchUp were dropped on a live
// session. Now the forget holds the switch: it connects once the forget
// is done, and keeps what it declares then.
func TestAttackForgetWhileSwitchReconnectsWipesLiveSwitch(t *testing.T) {
	const dpid = 0xd1
	fc := &fakeCluster{roles: map[uint64]func(cluster.Role){}}
	st := &blockingForgetter{sharedMem: newSharedMem(), entered: make(chan struct{}), release: make(chan struct{})}
	top := topology.New()
	r := newRigWith(t, logrus.DebugLevel, func(c *Config) { c.Cluster = fc; c.Store = st; c.Topology = top }, oneFlow{})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := r.ctl.ForgetSwitch(ctx, dpid, false, "operator")
		done <- err
	}()
	<-st.entered // the forget is in etcd
	sw := fakeswitch.Start(r.dial(), dpid, port(1, "p1"))
	defer sw.Close()
	time.Sleep(300 * time.Millisecond)
	if r.ctl.reg.claimed(dpid) {
		t.Fatal("the switch connected while it was being forgotten")
	}
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("forget: %v", err)
	}
	r.waitConnected(dpid)
	r.eventually("the switch in the topology", func() bool { sw, ok := top.Switch(dpid); return ok && sw.Connected })
	r.eventually("its declarations", func() bool { return r.ctl.desired.count(dpid) > 0 })
	time.Sleep(200 * time.Millisecond) // nothing forgets it after
	if _, ok := top.Switch(dpid); !ok || r.ctl.desired.count(dpid) == 0 {
		t.Fatalf("connected switch 0x%x lost its topology entry or declarations after the forget", dpid)
	}
}
