package controller

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/store"
)

// ForgetSwitch drops what Loom keeps about a switch that is gone: its
// place in the topology (ports, links, hosts seen on it), the flows apps
// declared for it, and the apps' own per-switch state (apps.Forgetter).
// With all, the flows API clients declared for it go too; without, they
// stay (an operator's or external app's declaration is not Loom's to
// age out). It returns how many desired flows were dropped, once that is
// on disk.
func (c *Controller) ForgetSwitch(ctx context.Context, dpid uint64, all bool, why string) (int, error) {
	// Held, the switch cannot connect until it is forgotten: nothing is
	// forgotten under a live session.
	if !c.reg.hold(dpid) {
		return 0, &FailedPreconditionError{Reason: fmt.Sprintf(
			"switch 0x%016x is connected (or being forgotten): disconnect it (ovs-vsctl del-controller BRIDGE) before forgetting it", dpid)}
	}
	defer c.reg.unhold(dpid)
	// The store's watch reports this forgetting back (SharedForgotten):
	// it is this call's to do, and to count.
	c.forgetting.Store(dpid, true)
	defer c.forgetting.Delete(dpid)
	if err := c.forgetShared(ctx, dpid, all); err != nil {
		return 0, err
	}
	n := c.forgetSwitches([]uint64{dpid}, all, why)
	// Acknowledged means durable: the dropped flows are off the disk
	// before the answer (a kill -9 right after must not bring them back).
	if p := c.persist; p != nil {
		if err := p.sync(ctx); err != nil {
			return n, fmt.Errorf("switch forgotten in memory, not yet on disk (retried): %w", err)
		}
	}
	return n, nil
}

// forgetSwitches forgets switches that are not connected, the topology
// in one revision; it returns the desired flows dropped.
func (c *Controller) forgetSwitches(dpids []uint64, all bool, why string) int {
	n := 0
	for _, dpid := range dpids {
		n += c.desired.forget(dpid, func(o owner) bool { return all || o.app != externalApp })
		c.ledWith.Delete(dpid)
		for _, a := range c.apps {
			if f, ok := a.(apps.Forgetter); ok {
				f.ForgetSwitch(dpid)
			}
		}
		c.reg.forget(dpid)
	}
	if top := c.cfg.Topology; top != nil {
		top.ForgetSwitches(dpids...)
	}
	fields := logrus.Fields{"switches": len(dpids), "desired_flows": n, "reason": why}
	if len(dpids) == 1 {
		fields = logrus.Fields{"dpid": fmt.Sprintf("0x%016x", dpids[0]), "desired_flows": n, "reason": why}
	}
	c.log.WithFields(fields).Info("forgot a switch")
	return n
}

// forget removes the owners keep selects from dpid's desired state (each
// removal persisted like any other) and, when nothing is left, the switch
// itself. It returns the number of flows removed.
func (d *desiredStore) forget(dpid uint64, drop func(owner) bool) int {
	d.mu.Lock()
	s, ok := d.sw[dpid]
	if !ok {
		d.mu.Unlock()
		return 0
	}
	var gone []owner
	n := 0
	for o, fs := range s.flows {
		if drop(o) {
			gone = append(gone, o)
			n += len(fs)
			delete(s.flows, o)
		}
	}
	if len(s.flows) == 0 {
		delete(d.sw, dpid)
	} else {
		for _, o := range gone {
			s.dirty[o] = struct{}{}
		}
	}
	if d.persist != nil {
		for _, o := range gone {
			d.persist(dpid, o, nil, true) // under d.mu, as in set
		}
	}
	d.mu.Unlock()
	return n
}

// dpids lists the switches with desired state.
func (d *desiredStore) dpids() []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]uint64, 0, len(d.sw))
	for dpid := range d.sw {
		out = append(out, dpid)
	}
	return out
}

// ageSwitches forgets, every period, the switches away for longer than
// after: a site where datapaths come and go (bridges recreated, hosts
// retired) does not keep their state forever.
func (c *Controller) ageSwitches(ctx context.Context, after, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		seen := map[uint64]bool{}
		var candidates []uint64
		if top := c.cfg.Topology; top != nil {
			for _, sw := range top.Snapshot().Switches {
				if !sw.Connected {
					candidates = append(candidates, sw.DPID)
				}
				seen[sw.DPID] = true
			}
		}
		for _, dpid := range c.desired.dpids() {
			if !seen[dpid] {
				candidates = append(candidates, dpid)
			}
		}
		var old, kept []uint64
		for _, dpid := range candidates {
			if c.reg.claimed(dpid) {
				continue
			}
			if c.reg.awayFor(dpid, now) > after {
				old = append(old, dpid)
			} else {
				kept = append(kept, dpid)
			}
		}
		// Anyone can connect with a made-up datapath id and leave: the
		// switches remembered while away are bounded too, longest away
		// forgotten first.
		if over := len(kept) - maxAwaySwitches; over > 0 {
			sort.Slice(kept, func(i, j int) bool { return c.reg.awayFor(kept[i], now) > c.reg.awayFor(kept[j], now) })
			c.forgetSwitches(kept[:over], false, fmt.Sprintf("more than %d switches away", maxAwaySwitches))
		}
		// Held while forgotten, as ForgetSwitch does: one that connects
		// meanwhile waits, and is not forgotten under its session.
		var held []uint64
		for _, dpid := range old {
			if c.reg.hold(dpid) {
				held = append(held, dpid)
			}
		}
		if len(held) > 0 {
			for _, dpid := range held {
				c.forgetting.Store(dpid, true)
				if err := c.forgetShared(ctx, dpid, false); err != nil {
					c.log.WithError(err).WithField("dpid", fmt.Sprintf("0x%016x", dpid)).
						Debug("away switch not forgotten in the cluster's store; forgotten here")
				}
			}
			c.forgetSwitches(held, false, fmt.Sprintf("away longer than forget_after (%s)", after))
			for _, dpid := range held {
				c.forgetting.Delete(dpid)
				c.reg.unhold(dpid)
			}
		}
	}
}

// SharedForgetter is a shared store that forgets a switch for the whole
// cluster (store.Etcd): only while no instance reaches it, refused with
// store.ErrSwitchReached otherwise.
type SharedForgetter interface {
	ForgetSwitch(ctx context.Context, dpid uint64, all bool) (int, error)
}

// forgetShared forgets dpid in the cluster's store first, so no later
// master restores what this instance forgot.
func (c *Controller) forgetShared(ctx context.Context, dpid uint64, all bool) error {
	f, ok := c.cfg.Store.(SharedForgetter)
	if c.cfg.Cluster == nil || !ok {
		return nil
	}
	_, err := f.ForgetSwitch(ctx, dpid, all)
	if errors.Is(err, store.ErrSwitchReached) {
		return &FailedPreconditionError{Reason: err.Error()}
	}
	if err != nil {
		return fmt.Errorf("forgetting switch 0x%016x in the cluster's store: %w", dpid, err)
	}
	return nil
}

// SharedForgotten forgets a switch another instance forgot in the
// cluster's store (this one's own forgetting too: then nothing is left).
func (c *Controller) SharedForgotten(dpid uint64, all bool) {
	if _, mine := c.forgetting.Load(dpid); mine || c.reg.claimed(dpid) || !c.knows(dpid) {
		return
	}
	c.forgetSwitches([]uint64{dpid}, all, "forgotten through another instance")
}

// maxAwaySwitches bounds the switches Loom remembers while they are away.
const maxAwaySwitches = 10000

// knows says whether Loom keeps anything about dpid.
func (c *Controller) knows(dpid uint64) bool {
	if c.reg.claimed(dpid) {
		return true
	}
	if top := c.cfg.Topology; top != nil {
		if _, ok := top.Switch(dpid); ok {
			return true
		}
	}
	return c.desired.count(dpid) > 0
}
