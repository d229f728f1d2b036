package discovery

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/topology"
)

// Discovery in a cluster. A switch's master alone hears its packet-ins,
// so the instance that hears a probe come in on a switch may not be the
// one that hears the probe going back: a link between switches with two
// masters is seen half by each. Each publishes the directions it hears
// (Sharer, written only by the master of the switch a probe came in on)
// and hears the others' (SharedHeard), so every instance finds every
// link. Probes are signed with one key for the whole cluster (WithKey).
// Publishing is asynchronous: no shared-store write on the packet-in
// path.

// Sharer publishes heard directions to the cluster. Heard must not
// block: the caller is a switch's event loop.
type Sharer interface {
	// Heard says a probe from `from` was heard (up) on `to`, or is no
	// longer (withdrawn).
	Heard(from, to topology.Endpoint, up bool)
}

// SharedWith publishes the directions this instance hears through s.
func SharedWith(s Sharer) Option { return func(a *App) { a.share = s } }

// publish tells the cluster about directions heard or withdrawn.
func (a *App) publish(ds []direction, up bool) {
	if a.share == nil {
		return
	}
	for _, d := range ds {
		a.share.Heard(d[0], d[1], up)
	}
}

// orphans are the shared directions into dpid this instance did not hear
// since cutoff although it has known them since before it: published by
// an earlier master of dpid (one that died or handed it over) and stale
// unless a probe confirms them. Withdrawing them is harmless where this
// instance is not dpid's master: its Sharer writes only for switches it
// masters. The caller holds a.mu.
func (a *App) orphans(dpid uint64, cutoff time.Time) []direction {
	var out []direction
	for d, since := range a.shared {
		if d[1].DPID != dpid || !since.Before(cutoff) {
			continue
		}
		if at, ok := a.heard[d]; ok && !at.Before(cutoff) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// SharedHeard applies a direction the cluster published (up) or
// withdrew, at now: the links it completes come up, the ones it was
// holding go down.
func (a *App) SharedHeard(log *logrus.Entry, from, to topology.Endpoint, up bool, now time.Time) {
	d := direction{from, to}
	l := topology.NewLink(from, to)
	a.mu.Lock()
	if !up {
		delete(a.shared, d)
	} else if _, ok := a.shared[d]; !ok {
		a.shared[d] = now
	}
	a.mu.Unlock()
	if up {
		a.linkUp(log, l, now)
		return
	}
	cutoff := now.Add(-3 * a.every)
	a.drop(func(k topology.Link) bool { return k == l && !a.bothWays(k, cutoff) })
}
