package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/topology"
)

// Refresh gives every apps.Refresher a turn on the switches named (all
// ready switches when none), on each switch's goroutine in order with its
// events, and returns when all have run and reconciled, or after
// refreshWait: a switch that answers slowly gets its turn queued and
// cannot hold up a policy change for everyone (the caller holds the
// policy lock). A switch still in setup is not waited for: it sees the
// refresh generation move and refreshes itself once ready. A policy
// change is exactly this: swap the policy, Refresh, and the reconciler
// sends only the difference.
func (c *Controller) Refresh(dpids ...uint64) {
	c.refreshGen.Add(1)
	var sessions []*session
	if len(dpids) == 0 {
		sessions = c.reg.list()
	}
	for _, d := range dpids {
		if s := c.reg.get(d); s != nil {
			sessions = append(sessions, s)
		}
	}
	var wg sync.WaitGroup
	var slow atomic.Int64
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A switch that goes away meanwhile needs nothing.
			if s.doWithin(s.refresh, c.refreshWait()) == errSessionBusy {
				slow.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := slow.Load(); n > 0 {
		c.log.WithFields(logrus.Fields{"switches": n, "waited": c.refreshWait()}).Warn(
			"some switches are slow to take a change; it stays queued for them and applies when they get to it")
	}
}

// refreshWait bounds how long Refresh waits for one switch.
func (c *Controller) refreshWait() time.Duration { return c.cfg.RequestTimeout }

// refresh runs on the session goroutine.
func (s *session) refresh() {
	for _, a := range s.c.apps {
		if r, ok := a.(apps.Refresher); ok {
			s.call(a, func(ctx apps.Context) { r.Refresh(ctx, s.sw) })
		}
	}
}

// refreshOnTopology refreshes every switch when the topology changes what
// apps derive flows from: ports (OVSDB adding a VM's identity or a tag
// after the OpenFlow port appeared), hosts, switches and hypervisors
// (the tunnel mesh spans switches, so one host's change is every host's).
// Bursts are batched, so a host booting ten VMs costs one pass.
func (c *Controller) refreshOnTopology(ctx context.Context, top *topology.Topology, settle time.Duration) {
	events, cancel := top.Subscribe(1024)
	defer func() { cancel() }()
	hostAt := map[string]topology.Endpoint{} // where each host was last seen, to tell a move from a refresh
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok { // dropped for falling behind: catch up on everything
				events, cancel = top.Subscribe(1024)
				c.Refresh()
				continue
			}
			if mattersToApps(ev, hostAt) && timer == nil {
				timer = time.After(settle)
			}
		case <-timer:
			timer = nil
			c.Refresh()
		}
	}
}

// mattersToApps says whether an event can change what apps declare: links
// never do; a host only when it appears, goes or moves, not when the
// topology merely refreshes its last-seen time or adds an IP.
func mattersToApps(ev topology.Event, hostAt map[string]topology.Endpoint) bool {
	switch ev.Kind {
	case "link":
		return false
	case "host":
		h, _ := ev.Object.(topology.Host)
		if ev.Type == topology.Removed {
			delete(hostAt, ev.Key)
			return true
		}
		at := topology.Endpoint{DPID: h.DPID, Port: h.Port}
		if old, ok := hostAt[ev.Key]; ok && old == at {
			return false
		}
		hostAt[ev.Key] = at
		return true
	}
	return true
}
