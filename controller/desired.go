package controller

import (
	"hash/fnv"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
)

// claim is one owner's flow.
type claim struct {
	owner owner
	flow  flow.Flow
}

// owner is who declared a set of flows: an app and one of its keys.
type owner struct {
	app string
	key string
}

func (o owner) String() string { return o.app + "/" + o.key }

// less orders owners by app, then key: the order conflicts are decided in.
func (o owner) less(p owner) bool {
	if o.app != p.app {
		return o.app < p.app
	}
	return o.key < p.key
}

// cookie is the owner's stamp on its flows.
func (o owner) cookie(id flow.AppID) flow.Cookie {
	h := fnv.New32a()
	h.Write([]byte(o.app))
	h.Write([]byte{0})
	h.Write([]byte(o.key))
	return flow.MakeCookie(id, 0, h.Sum32())
}

// desiredStore is the desired flow state of every switch, connected or
// not: what apps declared, keyed by (app, key). It outlives connections,
// so a switch that reconnects gets its flows back.
type desiredStore struct {
	mu sync.Mutex
	sw map[uint64]*switchDesired
	// persist, when set, is told of every change but restores and API
	// writes (already stored, see applyDurable), under mu so it learns
	// of them in memory's order. It must not block.
	persist func(dpid uint64, o owner, flows []flow.Flow, deleted bool)
}

type switchDesired struct {
	flows map[owner][]flow.Flow
	dirty map[owner]struct{}
	// conflicts already logged, so a standing conflict is not logged on
	// every verify pass.
	logged map[string]bool
}

func newDesiredStore() *desiredStore {
	return &desiredStore{sw: make(map[uint64]*switchDesired)}
}

func (d *desiredStore) get(dpid uint64) *switchDesired {
	s, ok := d.sw[dpid]
	if !ok {
		s = &switchDesired{flows: make(map[owner][]flow.Flow), dirty: make(map[owner]struct{}), logged: make(map[string]bool)}
		d.sw[dpid] = s
	}
	return s
}

// set replaces o's flows on dpid, stamping each with o's cookie.
func (d *desiredStore) set(dpid uint64, o owner, id flow.AppID, flows []flow.Flow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.setLocked(dpid, o, id, flows) && d.persist != nil {
		// Told under d.mu, so the persister learns of changes in the order
		// memory saw them: a durable write applied (under d.mu) after this
		// one then supersedes it, never the other way round.
		d.persist(dpid, o, flows, false)
	}
}

// setLocked is set without persisting; it reports whether anything
// changed. d.mu is held.
func (d *desiredStore) setLocked(dpid uint64, o owner, id flow.AppID, flows []flow.Flow) bool {
	c := o.cookie(id)
	s := d.get(dpid)
	if old, ok := s.flows[o]; ok && sameFlows(old, flows, c) {
		return false // nothing changed: nothing to send, nothing to write (the hot path of a busy learning switch)
	}
	stamped := make([]flow.Flow, len(flows))
	for i, f := range flows {
		f.Cookie = c
		stamped[i] = f
	}
	s.flows[o] = stamped
	s.dirty[o] = struct{}{}
	return true
}

// sameFlows reports whether stamped (as stored) equals flows stamped with c.
func sameFlows(stamped, flows []flow.Flow, c flow.Cookie) bool {
	if len(stamped) != len(flows) {
		return false
	}
	for i := range stamped {
		if stamped[i].Key() != flows[i].Key() || stamped[i].Cookie != c || !stamped[i].SameBehaviour(flows[i]) {
			return false
		}
	}
	return true
}

// restore loads a declaration saved by an earlier run, without writing it
// back.
func (d *desiredStore) restore(dpid uint64, o owner, id flow.AppID, flows []flow.Flow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setLocked(dpid, o, id, flows)
}

// remove withdraws o's flows on dpid.
func (d *desiredStore) remove(dpid uint64, o owner) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removeLocked(dpid, o) && d.persist != nil {
		d.persist(dpid, o, nil, true) // under d.mu, as in set
	}
}

// removeLocked is remove without persisting; it reports whether o had
// flows. d.mu is held.
func (d *desiredStore) removeLocked(dpid uint64, o owner) bool {
	s := d.get(dpid)
	if _, had := s.flows[o]; !had {
		return false
	}
	delete(s.flows, o)
	s.dirty[o] = struct{}{}
	return true
}

// applyDurable applies a change the store has already committed (an API
// write), without telling the persister, and calls committed under d.mu
// so the persister can drop what the change supersedes before any later
// change is noted.
func (d *desiredStore) applyDurable(dpid uint64, o owner, id flow.AppID, flows []flow.Flow, deleted bool, committed func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if deleted {
		d.removeLocked(dpid, o)
	} else {
		d.setLocked(dpid, o, id, flows)
	}
	committed()
}

// takeDirty returns the owners changed since the last call, with their
// current flows (nil when withdrawn), and clears the dirty set.
func (d *desiredStore) takeDirty(dpid uint64) map[owner][]flow.Flow {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.get(dpid)
	if len(s.dirty) == 0 {
		return nil
	}
	out := make(map[owner][]flow.Flow, len(s.dirty))
	for o := range s.dirty {
		out[o] = s.flows[o]
	}
	s.dirty = make(map[owner]struct{})
	return out
}

// snapshot returns the desired table of dpid, one claim per flow key, and
// clears the dirty set. Two owners claiming the same (table, priority,
// match) is a conflict: the owner that sorts first by app/key wins, on
// every pass and every restart; the conflict is counted and logged once.
func (d *desiredStore) snapshot(dpid uint64, log *logrus.Entry, st *Stats) map[flow.Key]claim {
	return d.resolve(dpid, log, st, true)
}

// peek is snapshot for a reader (the API's diff): the dirty set stays.
func (d *desiredStore) peek(dpid uint64, log *logrus.Entry, st *Stats) map[flow.Key]claim {
	return d.resolve(dpid, log, st, false)
}

// claims returns every owner's flows on dpid, conflicts included.
func (d *desiredStore) claims(dpid uint64) []claim {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []claim
	for o, fs := range d.get(dpid).flows {
		for _, f := range fs {
			out = append(out, claim{owner: o, flow: f})
		}
	}
	return out
}

func (d *desiredStore) resolve(dpid uint64, log *logrus.Entry, st *Stats, take bool) map[flow.Key]claim {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.get(dpid)
	out := make(map[flow.Key]claim, len(s.flows))
	// Map order, no sort: a contested key goes to the lesser owner
	// whichever comes first, which is the same outcome for less work.
	for o, flows := range s.flows {
		for _, f := range flows {
			k := f.Key()
			cur, taken := out[k]
			if !taken {
				out[k] = claim{owner: o, flow: f}
				continue
			}
			if cur.owner == o {
				continue // the same owner listed the flow twice
			}
			winner, loser, lost := cur, claim{owner: o, flow: f}, f
			if o.less(cur.owner) {
				winner, loser = loser, cur
				out[k] = winner
				lost = cur.flow
			}
			st.conflicts.Add(1)
			id := winner.owner.String() + "|" + loser.owner.String() + "|" + lost.String()
			if !s.logged[id] {
				s.logged[id] = true
				log.WithFields(logrus.Fields{"flow": lost.String(), "winner": winner.owner.String(), "loser": loser.owner.String()}).
					Warn("two owners declare the same flow; the first by app/key wins")
			}
		}
	}
	if take {
		s.dirty = make(map[owner]struct{})
	}
	return out
}

// countByApp returns how many flows each app declares, over all switches.
func (d *desiredStore) countByApp() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for _, s := range d.sw {
		for o, fs := range s.flows {
			out[o.app] += len(fs)
		}
	}
	return out
}

// count returns how many flows are desired on dpid.
func (d *desiredStore) count(dpid uint64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, fs := range d.get(dpid).flows {
		n += len(fs)
	}
	return n
}
