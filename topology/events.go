package topology

import (
	"fmt"
	"reflect"
	"sort"

	"github.com/loomsdn/loom/internal/eventlog"
)

// recentEvents is about how many past events the model keeps (between
// this and twice this): how far a reader may fall behind, and how far back
// a watcher can resume.
const recentEvents = 10000

// ErrRevisionGone means a watcher asked to resume from a revision whose
// events are no longer kept; it must list again and watch from there.
var ErrRevisionGone = eventlog.ErrRevisionGone

// ErrFellBehind means a cursor's next event was dropped from the log
// before it was read; the reader resumes from the last revision it saw
// (or lists again if that is gone too).
var ErrFellBehind = eventlog.ErrFellBehind

// Cursor reads the model's events in revision order (Watch, Follow).
type Cursor = eventlog.Cursor[Event]

func newEventLog() *eventlog.Log[Event] {
	return eventlog.New(recentEvents, func(e Event) uint64 { return e.Revision })
}

// FellBehind counts readers that fell behind the event log (a metric).
func (t *Topology) FellBehind() uint64 { return t.log.Behind() }

// Watch returns a cursor over every event after revision from (from now
// on for 0). It takes the event log's lock only, never the model's, so
// watches open by the thousand without slowing a commit. A from older
// than the log keeps is ErrRevisionGone; one ahead of the current
// revision is an error too.
func (t *Topology) Watch(from uint64) (*Cursor, error) {
	return t.log.Cursor(from)
}

// Follow returns a cursor over every event from now on.
func (t *Topology) Follow() *Cursor { return t.log.Follow() }

// FollowAt is Follow, and the revision the cursor starts after.
func (t *Topology) FollowAt() (*Cursor, uint64) { return t.log.FollowAt() }

// EventType says what happened to an object.
type EventType string

// Event types.
const (
	Added   EventType = "added"
	Changed EventType = "changed"
	Removed EventType = "removed"
)

// ObjectKind says what sort of object an event is about; Object holds
// the matching type (KindPort: a Port, and so on). A named type so a
// misspelt kind is a compile error at the caller, not a filter that
// silently never matches.
type ObjectKind string

// Object kinds. The values are the JSON form of Event.Kind: do not change
// them.
const (
	KindHypervisor ObjectKind = "hypervisor" // Object is a Hypervisor, Key its name
	KindSwitch     ObjectKind = "switch"     // a Switch, keyed by switchKey
	KindPort       ObjectKind = "port"       // a Port, keyed by its Endpoint
	KindLink       ObjectKind = "link"       // a Link, keyed by linkKey
	KindHost       ObjectKind = "host"       // a Host, keyed by its MAC
)

// Event is one change to the model. Object is a copy, not the view's
// memory, but one copy shared by every reader of the log: readers must not
// change it.
type Event struct {
	Revision uint64     `json:"revision"`
	Type     EventType  `json:"type"`
	Kind     ObjectKind `json:"kind"`
	Key      string     `json:"key"`
	Object   any        `json:"object"`
}

// switchKey and linkKey are the event keys of a switch and of a link
// (TopologyEvent.key on the wire, so their form is fixed). One function
// each, because the full recompute (diff), the per-switch path
// (commitSwitch) and the link input (SetLink) must agree on them: an
// event whose key differs from the previous one for the same object
// reads as a different object.
func switchKey(dpid uint64) string { return fmt.Sprintf("0x%016x", dpid) }

func linkKey(l Link) string { return l.A.String() + "-" + l.B.String() }

// diff lists the objects that differ between two models.
func diff(old, next Snapshot) []Event {
	var out []Event
	add := func(kind ObjectKind, o, n map[string]any) {
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		for k := range o {
			if _, ok := n[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ov, had := o[k]
			nv, has := n[k]
			switch {
			case !had:
				out = append(out, Event{Type: Added, Kind: kind, Key: k, Object: cloneObject(nv)})
			case !has:
				out = append(out, Event{Type: Removed, Kind: kind, Key: k, Object: cloneObject(ov)})
			case !reflect.DeepEqual(ov, nv):
				out = append(out, Event{Type: Changed, Kind: kind, Key: k, Object: cloneObject(nv)})
			}
		}
	}
	// Hosts are not in the view (see setHost): they publish their own events.
	index := func(s Snapshot) (hv, sw, po, li map[string]any) {
		hv, sw, po, li = map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
		for _, h := range s.Hypervisors {
			hv[h.Name] = h
		}
		for _, x := range s.Switches {
			sw[switchKey(x.DPID)] = x
		}
		for _, p := range s.Ports {
			po[Endpoint{p.DPID, p.No}.String()] = p
		}
		for _, l := range s.Links {
			li[linkKey(l)] = l
		}
		return
	}
	oh, os, op, ol := index(old)
	nh, ns, np, nl := index(next)
	add(KindHypervisor, oh, nh)
	add(KindSwitch, os, ns)
	add(KindPort, op, np)
	add(KindLink, ol, nl)
	return out
}
