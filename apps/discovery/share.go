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
	// MasterSince says since when this instance masters dpid (ok false:
	// it does not). A master of a switch for a whole window hears every
	// probe into it, so its own ears are the truth there, not what the
	// cluster published (its own stale words, or a predecessor's).
	MasterSince(dpid uint64) (time.Time, bool)
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

// masterLong says whether this instance has mastered dpid since before
// cutoff: it has heard every probe into dpid for a whole window.
func (a *App) masterLong(dpid uint64, cutoff time.Time) bool {
	if a.share == nil {
		return false
	}
	since, ok := a.share.MasterSince(dpid)
	return ok && since.Before(cutoff)
}

// orphans are the shared directions into dpid this instance did not hear
// since cutoff although it has mastered dpid since before it: published
// by an earlier master (one that died or handed it over), or by this one
// before it stopped hearing them, and stale. A new master withdraws
// nothing in its first window: the probes it has not heard yet may be on
// their way. The caller holds a.mu.
func (a *App) orphans(dpid uint64, cutoff time.Time) []direction {
	if !a.masterLong(dpid, cutoff) {
		return nil
	}
	var out []direction
	for d := range a.shared {
		if d[1].DPID != dpid {
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
	if up {
		a.shared[d] = true
	} else {
		delete(a.shared, d)
	}
	a.mu.Unlock()
	if up {
		a.linkUp(log, l, now)
		return
	}
	cutoff := now.Add(-3 * a.every)
	a.drop(func(k topology.Link) bool { return k == l && !a.bothWays(k, cutoff) })
}
