// Package ofsim is an in-memory OpenFlow flow table: it applies flow-mods
// and bundles the way OVS does (add replaces an identical flow, strict
// commands need an exact match and priority, a bundle commits all or
// nothing), answers flow-stats dumps, and says where a packet goes. Unit
// tests use it to ask "what would the switch hold" without OVS.
package ofsim

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"github.com/loomsdn/loom/openflow"
)

// Entry is one flow in the table.
type Entry struct {
	Table        uint8
	Priority     uint16
	Cookie       uint64
	Match        []openflow.OXM
	Instructions []openflow.Instruction
	Packets      uint64
}

// key identifies an entry: table, priority and the exact match.
func key(table uint8, prio uint16, match []openflow.OXM) string {
	var b bytes.Buffer
	b.WriteByte(table)
	_ = binary.Write(&b, binary.BigEndian, prio) // fixed-size into a bytes.Buffer: cannot fail
	for _, o := range sortedOXMs(match) {
		_ = binary.Write(&b, binary.BigEndian, o.Class)
		b.WriteByte(o.Field)
		b.WriteByte(byte(len(o.Value)))
		b.Write(o.Value)
		b.Write(o.Mask)
	}
	return b.String()
}

func sortedOXMs(m []openflow.OXM) []openflow.OXM {
	s := append([]openflow.OXM(nil), m...)
	sort.Slice(s, func(i, j int) bool {
		if s[i].Class != s[j].Class {
			return s[i].Class < s[j].Class
		}
		return s[i].Field < s[j].Field
	})
	return s
}

// Counts tallies the flow-mods applied, by command.
type Counts struct{ Adds, Modifies, Deletes, Bundles int }

// Switch is a flow table with bundles.
type Switch struct {
	mu      sync.Mutex
	entries map[string]*Entry
	bundles map[uint32][]openflow.FlowMod
	counts  Counts
	// Reject, when set, refuses a flow-mod with the returned error, as OVS
	// refuses an invalid flow.
	Reject func(openflow.FlowMod) error
}

// New returns an empty switch.
func New() *Switch {
	return &Switch{entries: make(map[string]*Entry), bundles: make(map[uint32][]openflow.FlowMod)}
}

// Apply carries out one flow-mod.
func (s *Switch) Apply(fm openflow.FlowMod) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(s.entries, fm)
}

func (s *Switch) apply(entries map[string]*Entry, fm openflow.FlowMod) error {
	if s.Reject != nil {
		if err := s.Reject(fm); err != nil {
			return err
		}
	}
	k := key(fm.TableID, fm.Priority, fm.Match)
	switch fm.Command {
	case openflow.FlowAdd:
		s.counts.Adds++
		entries[k] = &Entry{Table: fm.TableID, Priority: fm.Priority, Cookie: fm.Cookie, Match: fm.Match, Instructions: fm.Instructions}
	case openflow.FlowModifyStrict:
		s.counts.Modifies++
		if e, ok := entries[k]; ok && e.Cookie&fm.CookieMask == fm.Cookie&fm.CookieMask {
			e.Instructions = fm.Instructions
		}
	case openflow.FlowDeleteStrict:
		s.counts.Deletes++
		if e, ok := entries[k]; ok && e.Cookie&fm.CookieMask == fm.Cookie&fm.CookieMask {
			delete(entries, k)
		}
	case openflow.FlowDelete:
		// Non-strict delete: only the all-wildcard form Loom's tests use.
		s.counts.Deletes++
		for k, e := range entries {
			if (fm.TableID == openflow.TableAll || e.Table == fm.TableID) && e.Cookie&fm.CookieMask == fm.Cookie&fm.CookieMask && len(fm.Match) == 0 {
				delete(entries, k)
			}
		}
	default:
		return fmt.Errorf("ofsim: flow-mod command %d not simulated", fm.Command)
	}
	return nil
}

// BundleAdd queues fm in bundle id.
func (s *Switch) BundleAdd(id uint32, fm openflow.FlowMod) {
	s.mu.Lock()
	s.bundles[id] = append(s.bundles[id], fm)
	s.mu.Unlock()
}

// BundleCommit applies bundle id atomically: on any error nothing changes.
func (s *Switch) BundleCommit(id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fms := s.bundles[id]
	delete(s.bundles, id)
	next := make(map[string]*Entry, len(s.entries))
	for k, e := range s.entries {
		c := *e
		next[k] = &c
	}
	saved := s.counts
	for i, fm := range fms {
		if err := s.apply(next, fm); err != nil {
			s.counts = saved
			return fmt.Errorf("bundle %d message %d: %w", id, i, err)
		}
	}
	s.entries = next
	s.counts.Bundles++
	return nil
}

// Counts returns the flow-mods applied so far.
func (s *Switch) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Entries returns the table, ordered by table, then priority descending.
func (s *Switch) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return key(out[i].Table, out[i].Priority, out[i].Match) < key(out[j].Table, out[j].Priority, out[j].Match)
	})
	return out
}

// FlowStatsBody encodes the table as a FLOW multipart reply body.
func (s *Switch) FlowStatsBody() []byte {
	var b []byte
	for _, e := range s.Entries() {
		b = openflow.AppendFlowStats(b, openflow.FlowStats{TableID: e.Table, Priority: e.Priority, Cookie: e.Cookie,
			Packets: e.Packets, Match: e.Match, Instructions: e.Instructions})
	}
	return b
}

// Remove deletes flows for which drop is true, as `ovs-ofctl del-flows`
// behind the controller's back would.
func (s *Switch) Remove(drop func(Entry) bool) {
	s.mu.Lock()
	for k, e := range s.entries {
		if drop(*e) {
			delete(s.entries, k)
		}
	}
	s.mu.Unlock()
}

// Insert adds a flow directly, as an out-of-band `ovs-ofctl add-flow` would.
func (s *Switch) Insert(e Entry) {
	s.mu.Lock()
	c := e
	s.entries[key(e.Table, e.Priority, e.Match)] = &c
	s.mu.Unlock()
}
