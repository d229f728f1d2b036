package controller

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/topology"
)

// Refresh gives every apps.Refresher a turn on the switches named (all
// ready switches when none), on each switch's goroutine in order with its
// events, and returns when all have run and reconciled, or after
// refreshWait: a switch that answers slowly cannot hold up a policy
// change for everyone (the caller holds the policy lock), and its turn
// still comes. Requests coalesce per switch: however many Refresh calls
// arrive while a switch is busy, it runs one turn, with the latest
// inputs, which serves them all (a topology storm must not queue a
// recompute per event per switch). A switch still in setup is not waited
// for: it sees the refresh generation move and refreshes itself once
// ready. A policy change is exactly this: swap the policy, Refresh, and
// the reconciler sends only the difference.
func (c *Controller) Refresh(dpids ...uint64) []SwitchChange {
	gen := c.refreshGen.Add(1)
	var sessions []*session
	if len(dpids) == 0 {
		c.missedGen.Add(1) // before the list: a switch in setup now refreshes itself once ready
		sessions = c.reg.list()
	}
	for _, d := range dpids {
		if s := c.refreshTarget(d); s != nil {
			sessions = append(sessions, s)
		}
	}
	for _, s := range sessions {
		s.refreshes.request(gen)
	}
	deadline := time.Now().Add(c.refreshWait())
	slow := 0
	closing := c.jobs.Context().Done() // Close must not wait out a slow switch
	var changed []SwitchChange
	for _, s := range sessions {
		if !s.refreshes.wait(gen, deadline, s.conn.Done(), closing) {
			slow++
			continue
		}
		if mods := s.refreshes.lastMods(); mods > 0 {
			changed = append(changed, SwitchChange{DPID: s.dpid, Name: c.switchName(s.dpid), FlowMods: mods})
		}
	}
	if slow > 0 {
		c.log.WithFields(logrus.Fields{"switches": slow, "waited": c.refreshWait()}).Warn(
			"some switches are slow to take a change; it stays queued for them and applies when they get to it")
	}
	return changed
}

// SwitchChange is what a refresh sent one switch: the flow-mods its turn
// took (the last turn's, when turns coalesced).
type SwitchChange struct {
	DPID     uint64
	Name     string // hypervisor/bridge, or the dpid
	FlowMods int
}

// refreshTarget is the ready session of dpid, or nil; a switch perhaps in
// setup is told to refresh itself once ready.
func (c *Controller) refreshTarget(dpid uint64) *session {
	s := c.reg.get(dpid)
	if s == nil { // perhaps in setup: it refreshes itself once ready...
		c.missedGen.Add(1)
		s = c.reg.get(dpid) // ...unless it became ready before the bump
	}
	return s
}

// requestRefresh queues a refresh turn on dpid and returns at once: an
// app asks for it from a handler, perhaps on that switch's own goroutine,
// where waiting would wait on itself.
func (c *Controller) requestRefresh(dpid uint64) {
	gen := c.refreshGen.Add(1)
	if s := c.refreshTarget(dpid); s != nil {
		s.refreshes.request(gen)
	}
}

// refreshState is one session's pending and completed refresh
// generations. Requesters set want and kick; the session loop runs one
// turn for everything requested so far and publishes done.
type refreshState struct {
	mu      sync.Mutex
	want    uint64
	done    uint64
	changed chan struct{} // closed (and replaced) when done moves
	kick    chan struct{} // cap 1: a turn is due
	mods    int           // flow-mods the last finished turn sent
}

func newRefreshState() *refreshState {
	return &refreshState{changed: make(chan struct{}), kick: make(chan struct{}, 1)}
}

func (r *refreshState) request(gen uint64) {
	r.mu.Lock()
	if gen > r.want {
		r.want = gen
	}
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// take returns the generation a turn now serves (0: nothing pending).
func (r *refreshState) take() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.want <= r.done {
		return 0
	}
	return r.want
}

// finish records a turn for gen.
func (r *refreshState) finish(gen uint64, mods int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mods = mods
	if gen > r.done {
		r.done = gen
		close(r.changed)
		r.changed = make(chan struct{})
	}
}

// lastMods is how many flow-mods the last finished turn sent.
func (r *refreshState) lastMods() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mods
}

// wait reports whether a turn covering gen finished before deadline (or
// the session ended, or the controller is closing, which need nothing
// more).
func (r *refreshState) wait(gen uint64, deadline time.Time, gone, closing <-chan struct{}) bool {
	for {
		r.mu.Lock()
		done, changed := r.done, r.changed
		r.mu.Unlock()
		if done >= gen {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-gone:
			t.Stop()
			return true
		case <-closing:
			t.Stop()
			return true
		case <-t.C:
		}
		t.Stop()
	}
}

// refreshTurn runs on the session goroutine when a refresh is due.
func (s *session) refreshTurn() {
	if gen := s.refreshes.take(); gen > 0 {
		s.turnMods = 0
		s.refresh()
		s.refreshes.finish(gen, s.turnMods)
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

// refreshOnTopology refreshes switches when the topology changes what
// apps derive flows from: ports (OVSDB adding a VM's identity or a tag
// after the OpenFlow port appeared), hosts, switches and hypervisors.
// What a hypervisor's bridge reports can change every host's flows (the
// tunnel mesh spans them), so it refreshes every switch; a switch no
// hypervisor claims (and its ports) only its own. Bursts are batched, so a
// host booting ten VMs costs one pass, and a storm of unclaimed switches
// costs each its own refresh, not one of every switch per arrival.
func (c *Controller) refreshOnTopology(ctx context.Context, top *topology.Topology, settle time.Duration) {
	cur := top.Follow()
	scope := newRefreshScope()
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-cur.Ready():
			events, err := cur.Read()
			if err != nil { // fell behind: catch up on everything
				cur = top.Follow()
				c.Refresh()
				continue
			}
			for _, ev := range events {
				if scope.note(ev) && timer == nil {
					timer = time.After(settle)
				}
			}
		case <-timer:
			timer = nil
			if all, dpids := scope.take(); all {
				c.Refresh()
			} else {
				c.Refresh(dpids...)
			}
		}
	}
}

// refreshScope collects which switches a burst of topology events
// refreshes: all of them, or only some.
type refreshScope struct {
	all    bool
	only   map[uint64]bool
	hostAt map[string]topology.Endpoint // where each host was last seen, to tell a move from a refresh
	// switchAt is the revision of each unclaimed switch's last switch
	// event: its connect or disconnect. Nothing in that revision needs a
	// refresh (setup computed the switch from these very ports; a switch
	// that left has no session), and its port events come after it in the
	// revision (events are sorted by key, a port's key extends its
	// switch's).
	switchAt map[uint64]uint64
}

func newRefreshScope() *refreshScope {
	return &refreshScope{only: map[uint64]bool{}, hostAt: map[string]topology.Endpoint{}, switchAt: map[uint64]uint64{}}
}

// note takes one event and says whether it needs a refresh.
func (r *refreshScope) note(ev topology.Event) bool {
	if !mattersToApps(ev, r.hostAt) {
		return false
	}
	dpid, local := ownSwitchOnly(ev)
	switch {
	case !local || len(r.only) >= maxScopedRefresh:
		r.all = true
	case ev.Kind == topology.KindSwitch:
		if len(r.switchAt) >= maxScopedRefresh {
			clear(r.switchAt)
		}
		r.switchAt[dpid] = ev.Revision
		return false
	case r.switchAt[dpid] == ev.Revision:
		return false // a port of a switch connecting or leaving
	default:
		r.only[dpid] = true
	}
	return true
}

// take returns what the events noted so far refresh, and starts over.
func (r *refreshScope) take() (all bool, dpids []uint64) {
	all, dpids = r.all, slices.Collect(maps.Keys(r.only))
	r.all = false
	clear(r.only)
	return all, dpids
}

// maxScopedRefresh bounds the switches remembered for a scoped refresh;
// beyond it the pass refreshes every switch.
const maxScopedRefresh = 65536

// ownSwitchOnly says whether ev can change the flows of its own switch
// only, and which: an event of a switch no hypervisor claims, or of a port
// OVSDB knows nothing of (no kind, tag, VM or tunnel). Everything else may
// change other switches' flows through the tunnel mesh.
func ownSwitchOnly(ev topology.Event) (uint64, bool) {
	switch o := ev.Object.(type) {
	case topology.Switch:
		return o.DPID, o.Hypervisor == "" && o.Bridge == ""
	case topology.Port:
		return o.DPID, o.Kind == "" && o.Tag == 0 && o.VM == nil && o.Tunnel == nil && o.PatchPeer == ""
	}
	return 0, false
}

// mattersToApps says whether an event can change what apps declare: links
// never do; a host only when it appears, goes or moves, not when the
// topology merely refreshes its last-seen time or adds an IP.
func mattersToApps(ev topology.Event, hostAt map[string]topology.Endpoint) bool {
	switch ev.Kind {
	case topology.KindLink:
		return false
	case topology.KindHost:
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
