package topology

import (
	"sort"
	"sync"

	"github.com/loomsdn/loom/internal/eventlog"
)

// Topology is the model. All methods are safe for concurrent use.
type Topology struct {
	// mu guards everything below; readers share it (RLock), so thousands
	// of apps' port lookups do not queue behind one another.
	mu   sync.RWMutex
	in   inputs
	view Snapshot
	// connSeq numbers switch connections (SwitchConnected's tokens).
	connSeq uint64
	// log holds the recent events for every reader (Watch). Commits append
	// under t.mu, so events stay in revision order; readers take only the
	// log's own lock, never t.mu: thousands of watchers cost a commit
	// nothing.
	log *eventlog.Log[Event]
	// portAt indexes the view's ports by (dpid, port), kept in step with it.
	portAt map[Endpoint]Port
	// bridges indexes the OVSDB bridges by datapath id.
	bridges map[uint64]where
	// onChange is called (outside the lock) after every revision, e.g. to
	// persist.
	onChange func()
}

// New returns an empty model.
func New() *Topology {
	return &Topology{in: newInputs(), log: newEventLog()}
}

// OnChange sets a function called after each new revision.
func (t *Topology) OnChange(fn func()) {
	t.mu.Lock()
	t.onChange = fn
	t.mu.Unlock()
}

// update applies fn to the inputs and recomputes the model; when the model
// changed it bumps the revision and publishes one event per changed object.
// fn returns false when it changed nothing, which skips the recompute.
func (t *Topology) update(fn func(in *inputs) bool) {
	t.locked(func() bool {
		if !fn(&t.in) {
			return false
		}
		t.bridges = bridgeIndex(t.in) // inputs changed, even when the view did not
		next := join(t.in)
		if !t.commit(next, diff(t.view, next)) {
			return false
		}
		t.indexPorts()
		return true
	})
}

// locked runs fn with t.mu held (released however fn ends, panics
// included) and, when fn reports a new revision, calls the change hook
// after the lock is released: the hook may read the model.
func (t *Topology) locked(fn func() (committed bool)) {
	var onChange func()
	func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if fn() {
			onChange = t.onChange
		}
	}()
	if onChange != nil {
		onChange()
	}
}

// commit installs a new view and appends its events to the log; it is
// called with t.mu held and says whether there was anything to commit.
func (t *Topology) commit(next Snapshot, events []Event) bool {
	if len(events) == 0 {
		return false
	}
	next.Revision = t.view.Revision + 1
	for i := range events {
		events[i].Revision = next.Revision
	}
	t.view = next
	t.log.Append(events...)
	return true
}

// Revision is the model's current revision: a cheap way to tell whether a
// Snapshot taken earlier is still current.
func (t *Topology) Revision() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.view.Revision
}

// Snapshot returns a copy of the model (copy.go): the caller's to keep
// and change.
func (t *Topology) Snapshot() Snapshot {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.view.clone()
	s.Hosts = make([]Host, 0, len(t.in.Hosts))
	for _, h := range t.in.Hosts {
		s.Hosts = append(s.Hosts, h.clone())
	}
	sort.Slice(s.Hosts, func(i, j int) bool { return s.Hosts[i].MAC < s.Hosts[j].MAC })
	return s
}

// Ports returns one switch's ports (cheaper than a Snapshot).
func (t *Topology) Ports(dpid uint64) []Port {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ports := t.view.Ports // sorted by switch, then port number
	lo := sort.Search(len(ports), func(i int) bool { return ports[i].DPID >= dpid })
	hi := sort.Search(len(ports), func(i int) bool { return ports[i].DPID > dpid })
	return clonePorts(ports[lo:hi])
}

// Switch returns one switch of the model (cheaper than a Snapshot).
func (t *Topology) Switch(dpid uint64) (Switch, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	sw := t.view.Switches // sorted by datapath id
	i := sort.Search(len(sw), func(i int) bool { return sw[i].DPID >= dpid })
	if i < len(sw) && sw[i].DPID == dpid {
		return sw[i], true
	}
	return Switch{}, false
}

// Port returns one port of the model, a copy (copy.go).
func (t *Topology) Port(dpid uint64, no uint32) (Port, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.portAt[Endpoint{dpid, no}]
	if !ok {
		return Port{}, false
	}
	return p.clone(), true
}

// indexPorts rebuilds the port index from the view, after a full
// recompute or a restore (commitSwitch keeps it in step itself).
func (t *Topology) indexPorts() {
	t.portAt = make(map[Endpoint]Port, len(t.view.Ports))
	for _, p := range t.view.Ports {
		t.portAt[Endpoint{p.DPID, p.No}] = p
	}
}
