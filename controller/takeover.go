package controller

import (
	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/store"
)

// What a new master wants of a switch. Three cases, by what this instance
// knows of the switch's history (Controller.ledWith, per switch):
//
//   - It led the switch with this very generation before (it stood by
//     for a moment, etcd never let anyone else lead): its own
//     declarations are the newest, and those it made while standing by
//     were dropped by the store's guard.
//   - It never led the switch in this run: its declarations are what its
//     apps computed from the shared state, with nothing learned (only a
//     master hears packet-ins). The store's declarations, the previous
//     master's, are added over them.
//   - It led the switch before, and another instance since: its apps'
//     per-switch state is stale (a MAC the other master saw move, a
//     withdrawn declaration). It is forgotten, and the switch's
//     declarations become exactly the store's.
//
// Once confirmed, the master writes all of the switch's declarations to
// the store (those made as a slave were dropped by the guard), so the
// next master adopts a complete set, and a refresh follows, so the apps'
// computed flows are current.

// takeoverDeclarations prepares the switch's declarations for a master
// with generation gen; it returns how many flows came from the store.
func (c *Controller) takeoverDeclarations(dpid, gen uint64) (int, error) {
	prev, ledBefore := c.ledWith.Load(dpid)
	switch {
	case ledBefore && prev.(uint64) == gen:
		return 0, nil // takeOver writes them all again
	case ledBefore:
		c.forgetAppState(dpid)
		c.desired.dropDeclared(dpid)
	}
	return c.restoreSwitch(dpid)
}

// forgetAppState drops the apps' own state for dpid (apps.Forgetter).
func (c *Controller) forgetAppState(dpid uint64) {
	for _, a := range c.apps {
		if f, ok := a.(apps.Forgetter); ok {
			f.ForgetSwitch(dpid)
		}
	}
}

// repersist writes every declaration of dpid again.
func (d *desiredStore) repersist(dpid uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.persist == nil {
		return
	}
	for o, fs := range d.get(dpid).flows {
		d.persist(dpid, o, fs, false)
	}
}

// dropDeclared forgets dpid's declarations in memory (not in the store),
// but for the table-miss flows, which every instance declares alike.
func (d *desiredStore) dropDeclared(dpid uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for o := range d.get(dpid).flows {
		if !apps.IsTableMissKey(o.key) {
			d.removeLocked(dpid, o)
		}
	}
}

// restoresAtStart says whether Restore loads a stored declaration: in a
// cluster only the external apps' (shared, and kept current by the
// store's watch); each switch's others are the store's at the moment this
// instance becomes its master, not a stale copy from start-up.
func (c *Controller) restoresAtStart(ch store.DesiredChange) bool {
	return c.cfg.Cluster == nil || ch.App == externalApp
}
