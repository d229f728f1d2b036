package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Instance is one loomd of the cluster as it announces itself.
type Instance struct {
	Name     string    `json:"name"`
	OpenFlow []string  `json:"openflow,omitempty"` // its OpenFlow listeners
	API      string    `json:"api,omitempty"`      // its gRPC address
	Version  string    `json:"version,omitempty"`
	Started  time.Time `json:"started"`
	// Masters is how many switches it masters (filled in by Instances).
	Masters int `json:"-"`
}

// candidacy is one instance's key in a switch's election.
type candidacy struct {
	instance string
	key      string
	rev      int64     // create revision: the order, and the generation
	seen     time.Time // when this instance's watch first saw it
}

// model is the cluster as the watch shows it. The Node's mutex guards it.
type model struct {
	keys
	instances map[string]Instance
	reach     map[uint64]map[string]bool
	cands     map[uint64][]candidacy // by create revision, the leader first
}

// keys names the cluster's keys; immutable, so read without a lock.
type keys struct{ prefix string }

func newModel(prefix string) *model {
	return &model{keys: keys{prefix}, instances: map[string]Instance{}, reach: map[uint64]map[string]bool{},
		cands: map[uint64][]candidacy{}}
}

func (m keys) instanceKey(name string) string { return m.prefix + "instances/" + name }
func (m keys) reachKey(dpid uint64, name string) string {
	return fmt.Sprintf("%sreach/%016x/%s", m.prefix, dpid, name)
}
func (m keys) masterKey(dpid uint64, name string) string {
	return fmt.Sprintf("%smaster/%016x/%s", m.prefix, dpid, name)
}

// put applies a key written (or present at the first read).
func (m *model) put(key string, value []byte, createRev int64, now time.Time) {
	kind, rest, ok := strings.Cut(strings.TrimPrefix(key, m.prefix), "/")
	if !ok {
		return
	}
	switch kind {
	case "instances":
		var in Instance
		if json.Unmarshal(value, &in) != nil {
			in = Instance{} // an unreadable announcement still counts the instance as alive
		}
		in.Name = rest
		m.instances[rest] = in
	case "reach":
		if dpid, name, ok := splitSwitchKey(rest); ok {
			if m.reach[dpid] == nil {
				m.reach[dpid] = map[string]bool{}
			}
			m.reach[dpid][name] = true
		}
	case "master":
		if dpid, name, ok := splitSwitchKey(rest); ok {
			seen := now
			if old, ok := m.candidacyOf(dpid, name); ok && old.rev == createRev {
				seen = old.seen // rewritten, not recreated: the same candidacy
			}
			cs := slices.DeleteFunc(m.cands[dpid], func(c candidacy) bool { return c.key == key })
			cs = append(cs, candidacy{instance: name, key: key, rev: createRev, seen: seen})
			slices.SortFunc(cs, func(a, b candidacy) int { return int(a.rev - b.rev) })
			m.cands[dpid] = cs
		}
	}
}

// del applies a key deleted (or expired with its lease).
func (m *model) del(key string) {
	kind, rest, ok := strings.Cut(strings.TrimPrefix(key, m.prefix), "/")
	if !ok {
		return
	}
	switch kind {
	case "instances":
		delete(m.instances, rest)
	case "reach":
		if dpid, name, ok := splitSwitchKey(rest); ok {
			delete(m.reach[dpid], name)
			if len(m.reach[dpid]) == 0 {
				delete(m.reach, dpid)
			}
		}
	case "master":
		if dpid, _, ok := splitSwitchKey(rest); ok {
			cs := slices.DeleteFunc(m.cands[dpid], func(c candidacy) bool { return c.key == key })
			if len(cs) == 0 {
				delete(m.cands, dpid)
			} else {
				m.cands[dpid] = cs
			}
		}
	}
}

func splitSwitchKey(rest string) (uint64, string, bool) {
	hex, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return 0, "", false
	}
	dpid, err := strconv.ParseUint(hex, 16, 64)
	return dpid, name, err == nil
}

// leader is dpid's leading candidacy: the lowest create revision among
// live instances' (a key no live instance owns, written without a lease
// by hand or a tool, would otherwise block the switch for good).
func (m *model) leader(dpid uint64) (candidacy, bool) {
	for _, c := range m.cands[dpid] {
		if _, live := m.instances[c.instance]; live {
			return c, true
		}
	}
	return candidacy{}, false
}

// candidacyOf is name's candidacy for dpid.
func (m *model) candidacyOf(dpid uint64, name string) (candidacy, bool) {
	for _, c := range m.cands[dpid] {
		if c.instance == name {
			return c, true
		}
	}
	return candidacy{}, false
}

// preferredFor is the instance rendezvous hashing names for dpid among
// the live instances reaching it.
func (m *model) preferredFor(dpid uint64) string {
	var names []string
	for n := range m.reach[dpid] {
		if _, live := m.instances[n]; live {
			names = append(names, n)
		}
	}
	return preferred(dpid, names)
}
