package controller

import (
	"hash/fnv"
	"sync"

	"github.com/loomsdn/loom/flow"
)

// owner is who declared a set of flows: an app and one of its keys.
type owner struct {
	app string
	key string
}

func (o owner) String() string { return o.app + "/" + o.key }

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
}

type switchDesired struct {
	flows map[owner][]flow.Flow
	dirty map[owner]struct{}
}

func newDesiredStore() *desiredStore {
	return &desiredStore{sw: make(map[uint64]*switchDesired)}
}

func (d *desiredStore) get(dpid uint64) *switchDesired {
	s, ok := d.sw[dpid]
	if !ok {
		s = &switchDesired{flows: make(map[owner][]flow.Flow), dirty: make(map[owner]struct{})}
		d.sw[dpid] = s
	}
	return s
}

// set replaces o's flows on dpid, stamping each with o's cookie.
func (d *desiredStore) set(dpid uint64, o owner, id flow.AppID, flows []flow.Flow) {
	c := o.cookie(id)
	stamped := make([]flow.Flow, len(flows))
	for i, f := range flows {
		f.Cookie = c
		stamped[i] = f
	}
	d.mu.Lock()
	s := d.get(dpid)
	s.flows[o] = stamped
	s.dirty[o] = struct{}{}
	d.mu.Unlock()
}

// remove withdraws o's flows on dpid.
func (d *desiredStore) remove(dpid uint64, o owner) {
	d.mu.Lock()
	s := d.get(dpid)
	if _, ok := s.flows[o]; ok {
		delete(s.flows, o)
		s.dirty[o] = struct{}{}
	}
	d.mu.Unlock()
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

// all returns every owner's flows on dpid and clears the dirty set: the
// full recompute a (re)connecting switch gets.
func (d *desiredStore) all(dpid uint64) map[owner][]flow.Flow {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.get(dpid)
	out := make(map[owner][]flow.Flow, len(s.flows))
	for o, fs := range s.flows {
		out[o] = fs
	}
	s.dirty = make(map[owner]struct{})
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
