package controller

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/cluster"
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

// Found by attack: Controller.ForgetSwitch checks that the switch is not
// connected once, before forgetShared's etcd round trip, and then forgets
// it locally regardless. A switch that reconnects meanwhile (or whose
// reach key etcd had not seen when the txn's compare ran) is wiped while
// connected: its topology entry (ports, links) and every declaration its
// apps made at SwitchUp (the table-miss flows) are dropped on a live
// session.
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
	fakeswitchStart(r, dpid)
	r.eventually("the switch in the topology", func() bool { sw, ok := top.Switch(dpid); return ok && sw.Connected })
	r.eventually("its table-miss declared", func() bool { return r.ctl.desired.count(dpid) > 0 })
	close(st.release)
	err := <-done
	if !r.ctl.reg.claimed(dpid) {
		t.Fatal("test setup: the switch is not connected")
	}
	if _, ok := top.Switch(dpid); !ok {
		t.Errorf("forget returned %v and removed switch 0x%x from the topology while it is connected", err, dpid)
	}
	if n := r.ctl.desired.count(dpid); n == 0 {
		t.Errorf("forget returned %v and dropped every declaration of connected switch 0x%x", err, dpid)
	}
}
