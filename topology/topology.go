package topology

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/loomsdn/loom/internal/eventlog"
	"github.com/loomsdn/loom/ovsdb"
)

// OFPort is a port as a switch's OpenFlow connection reports it.
type OFPort struct {
	No        uint32 `json:"no"`
	Name      string `json:"name"`
	MAC       string `json:"mac"`
	Up        bool   `json:"up"`
	SpeedKbps uint32 `json:"speed_kbps"`
}

// inputs is everything the model is computed from. It is also what is
// persisted: restoring it reproduces the model exactly, and live inputs
// then replace it piece by piece as switches and OVSDBs report in.
type inputs struct {
	Configured map[string]Hypervisor `json:"configured"`
	OVSDB      map[string]ovsdbState `json:"ovsdb"`
	Switches   map[uint64]ofSwitch   `json:"switches"`
	Links      map[string]Link       `json:"links"`
	Hosts      map[string]Host       `json:"hosts"`
	// Claims lists, per datapath id, the hypervisors whose OVSDB lists
	// it, first claimant first: the binding (identity.go).
	Claims map[uint64][]string `json:"claims,omitempty"`
	// claimsGen counts changes to Claims (not persisted), so readers of
	// Conflicts can tell cheaply whether anything changed.
	claimsGen uint64
}

type ovsdbState struct {
	Endpoint  string           `json:"endpoint"`
	View      ovsdb.Hypervisor `json:"view"`
	Connected bool             `json:"connected"`
	Error     string           `json:"error,omitempty"`
}

type ofSwitch struct {
	Remote    string            `json:"remote"`
	Connected bool              `json:"connected"`
	Ports     map[uint32]OFPort `json:"ports"`
	// conn is the connection's token (SwitchConnected), not persisted.
	conn uint64
}

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
	return &Topology{in: inputs{Configured: map[string]Hypervisor{}, OVSDB: map[string]ovsdbState{},
		Switches: map[uint64]ofSwitch{}, Links: map[string]Link{}, Hosts: map[string]Host{}},
		log: newEventLog()}
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
		t.bridges = bridgeIndex(t.in)
		next := join(t.in)
		events := diff(t.view, next)
		t.portAt = make(map[Endpoint]Port, len(next.Ports))
		for _, p := range next.Ports {
			t.portAt[Endpoint{p.DPID, p.No}] = p
		}
		return t.commit(next, events)
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

// FellBehind counts readers that fell behind the event log (a metric).
func (t *Topology) FellBehind() uint64 { return t.log.Behind() }

// Revision is the model's current revision: a cheap way to tell whether a
// Snapshot taken earlier is still current.
func (t *Topology) Revision() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.view.Revision
}

// Snapshot returns a copy of the model.
func (t *Topology) Snapshot() Snapshot {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := t.view.clone()
	s.Hosts = make([]Host, 0, len(t.in.Hosts))
	for _, h := range t.in.Hosts {
		h.IPs = append([]string(nil), h.IPs...)
		s.Hosts = append(s.Hosts, h)
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
	return Snapshot{Ports: ports[lo:hi]}.clone().Ports
}

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

// SetHypervisors replaces the configured hypervisor list.
func (t *Topology) SetHypervisors(hs []Hypervisor) {
	t.update(func(in *inputs) bool {
		in.Configured = make(map[string]Hypervisor, len(hs))
		for _, h := range hs {
			in.Configured[h.Name] = h
		}
		return true
	})
}

// OVSDBState records what a hypervisor's OVSDB says (connected) or why
// it cannot be reached; the last view is kept while it is down.
func (t *Topology) OVSDBState(name, endpoint string, view *ovsdb.Hypervisor, err error) {
	t.update(func(in *inputs) bool {
		st := in.OVSDB[name]
		st.Endpoint = endpoint
		st.Connected, st.Error = err == nil, ""
		if err != nil {
			st.Error = err.Error()
		}
		if view != nil {
			st.View = *view
			claim(in, name, st.View)
		}
		in.OVSDB[name] = st
		return true
	})
}

// SwitchConnected records a switch that finished its handshake.
//
// It returns the connection's token for SwitchesDisconnected: a
// disconnect reported late, after the switch came back, changes nothing.
func (t *Topology) SwitchConnected(dpid uint64, remote string, ports []OFPort) uint64 {
	var token uint64
	t.updateSwitch(dpid, func(in *inputs) bool {
		t.connSeq++
		token = t.connSeq
		sw := ofSwitch{Remote: remote, Connected: true, Ports: make(map[uint32]OFPort, len(ports)), conn: token}
		for _, p := range ports {
			sw.Ports[p.No] = p
		}
		in.Switches[dpid] = sw
		return true
	})
	return token
}

// SwitchesDisconnected marks many switches down under one hold of the
// lock: sessions ending by the hundred (a storm's churn, a shutdown) do
// not queue on the model one by one. Each switch is given with the token
// its SwitchConnected returned; one that has connected again since is
// left alone.
func (t *Topology) SwitchesDisconnected(tokens map[uint64]uint64) {
	t.locked(func() bool {
		committed := false
		for dpid, token := range tokens {
			sw, ok := t.in.Switches[dpid]
			if !ok || sw.conn != token || !sw.Connected {
				continue
			}
			sw.Connected = false
			t.in.Switches[dpid] = sw
			if t.commitSwitch(dpid) {
				committed = true
			}
		}
		return committed
	})
}

// SwitchDisconnected keeps the switch, marked down.
func (t *Topology) SwitchDisconnected(dpid uint64) {
	t.updateSwitch(dpid, func(in *inputs) bool {
		sw, ok := in.Switches[dpid]
		if ok {
			sw.Connected = false
			in.Switches[dpid] = sw
		}
		return ok
	})
}

// ForgetSwitches removes switches that are gone, with their ports,
// their links and the hosts last seen on them, in one revision (one
// recompute however many: aging a churned site must not cost a recompute
// per switch). OVSDB's view of a bridge is not Loom's to forget: a bridge
// that still exists shows up again when it connects.
func (t *Topology) ForgetSwitches(dpids ...uint64) {
	gone := make(map[uint64]bool, len(dpids))
	for _, d := range dpids {
		gone[d] = true
	}
	var hosts []string
	t.locked(func() bool {
		for mac, h := range t.in.Hosts {
			if gone[h.DPID] {
				hosts = append(hosts, mac)
			}
		}
		return false
	})
	for _, mac := range hosts {
		t.HostGone(mac) // each publishes its own event
	}
	t.update(func(in *inputs) bool {
		had := false
		for d := range gone {
			if _, ok := in.Switches[d]; ok {
				delete(in.Switches, d)
				had = true
			}
		}
		for k, l := range in.Links {
			if gone[l.A.DPID] || gone[l.B.DPID] {
				delete(in.Links, k)
				had = true
			}
		}
		return had
	})
}

// PortChanged records a port added, changed or (deleted) removed.
func (t *Topology) PortChanged(dpid uint64, p OFPort, deleted bool) {
	t.updateSwitch(dpid, func(in *inputs) bool {
		sw, ok := in.Switches[dpid]
		if !ok {
			return false
		}
		ports := make(map[uint32]OFPort, len(sw.Ports)+1)
		for k, v := range sw.Ports {
			ports[k] = v
		}
		if deleted {
			delete(ports, p.No)
		} else {
			ports[p.No] = p
		}
		sw.Ports = ports
		in.Switches[dpid] = sw
		return true
	})
}

// SetLink records (up) or removes a link.
func (t *Topology) SetLink(l Link, up bool) {
	t.update(func(in *inputs) bool {
		k := l.A.String() + "-" + l.B.String()
		_, had := in.Links[k]
		if up {
			in.Links[k] = l
		} else {
			delete(in.Links, k)
		}
		return had != up
	})
}

// hostRefresh is how stale a host's LastSeen may get before a sighting
// at the same place updates it (and bumps the revision).
const hostRefresh = time.Minute

// HostSeen records a host (by MAC) at (dpid, port), with an IP when one
// was learned (from ARP); "" adds none. Hosts depend on no other input, so
// this path updates the model in place instead of recomputing it: it runs
// on every packet-in that teaches the learning switch something.
func (t *Topology) HostSeen(mac string, dpid uint64, port uint32, ip string, now time.Time) {
	t.locked(func() bool {
		h, ok := t.in.Hosts[mac]
		moved := !ok || h.DPID != dpid || h.Port != port
		newIP := ip != "" && !contains(h.IPs, ip)
		if !moved && !newIP && now.Sub(h.LastSeen) < hostRefresh {
			return false
		}
		h.MAC, h.DPID, h.Port, h.LastSeen = mac, dpid, port, now
		if !ok {
			h.firstSeen = now
		}
		if newIP {
			h.IPs = append(append([]string(nil), h.IPs...), ip)
			if len(h.IPs) > 8 { // bounded: a host claiming many addresses keeps its latest
				h.IPs = h.IPs[len(h.IPs)-8:]
			}
		}
		t.in.Hosts[mac] = h
		return t.setHost(mac, &h)
	})
}

// HostGone forgets a host.
func (t *Topology) HostGone(mac string) {
	t.locked(func() bool {
		if _, ok := t.in.Hosts[mac]; !ok {
			return false
		}
		delete(t.in.Hosts, mac)
		return t.setHost(mac, nil)
	})
}

// setHost publishes a host change. Hosts live only in the inputs (the
// view leaves them out; Snapshot adds them), so a change costs one map
// write and one event, however many hosts there are. Called with t.mu
// held.
func (t *Topology) setHost(mac string, h *Host) bool {
	ev := Event{Kind: "host", Key: mac, Type: Changed}
	switch {
	case h == nil:
		ev.Type, ev.Object = Removed, Host{MAC: mac}
	default:
		ev.Object = *h
		if h.LastSeen.Equal(h.firstSeen) {
			ev.Type = Added
		}
	}
	return t.commit(t.view, []Event{ev})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// indexPorts rebuilds the port index from the view (full recomputes).
func (t *Topology) indexPorts() {
	t.portAt = make(map[Endpoint]Port, len(t.view.Ports))
	for _, p := range t.view.Ports {
		t.portAt[Endpoint{p.DPID, p.No}] = p
	}
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

// Port returns one port of the model.
func (t *Topology) Port(dpid uint64, no uint32) (Port, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.portAt[Endpoint{dpid, no}]
	if !ok {
		return Port{}, false
	}
	if p.VM != nil {
		vm := *p.VM
		p.VM = &vm
	}
	return p, true
}

// Marshal returns the persisted form: the inputs.
func (t *Topology) Marshal() ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return json.Marshal(struct {
		Revision uint64 `json:"revision"`
		Inputs   inputs `json:"inputs"`
	}{t.view.Revision, t.in})
}

// Restore loads a persisted model. Everything comes back as it was, but
// not connected: live reports replace it as they arrive.
func (t *Topology) Restore(data []byte) error {
	var saved struct {
		Revision uint64 `json:"revision"`
		Inputs   inputs `json:"inputs"`
	}
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("stored topology: %w", err)
	}
	in := saved.Inputs
	for k, s := range in.OVSDB {
		s.Connected = false
		in.OVSDB[k] = s
	}
	for k, s := range in.Switches {
		s.Connected = false
		in.Switches[k] = s
	}
	fresh := New().in // a file from an older Loom may lack some maps
	if in.Configured == nil {
		in.Configured = fresh.Configured
	}
	if in.OVSDB == nil {
		in.OVSDB = fresh.OVSDB
	}
	if in.Switches == nil {
		in.Switches = fresh.Switches
	}
	if in.Links == nil {
		in.Links = fresh.Links
	}
	if in.Hosts == nil {
		in.Hosts = fresh.Hosts
	}
	if in.Claims == nil {
		reclaim(&in)
	}
	t.mu.Lock()
	t.in = in
	t.bridges = bridgeIndex(in)
	t.view = join(in)
	t.view.Revision = restartRevision(saved.Revision, time.Now())
	t.log.Reset(t.view.Revision)
	t.indexPorts()
	t.mu.Unlock()
	return nil
}

// restartRevision is where a restored model's revisions go on: above the
// saved one and above any the previous run may have handed out after it
// was saved (kill -9 loses the last few), taken as the clock in
// microseconds, which no run outpaces with one commit per microsecond.
// A watcher resuming across the restart then gets ErrRevisionGone and
// lists again, instead of being told its revision is in the future.
func restartRevision(saved uint64, now time.Time) uint64 {
	return max(saved, uint64(now.UnixMicro()))
}

// where is the OVSDB bridge (and its hypervisor) bound to a datapath id
// (bridgeIndex, identity.go).
type where struct {
	hv     string
	bridge ovsdb.Bridge
	// addrs and local say where the hypervisor's switches connect from
	// (speaksFor).
	addrs []netip.Addr
	local bool
}

// join computes the model from the inputs.
func join(in inputs) Snapshot {
	var s Snapshot
	names := map[string]bool{}
	for n := range in.Configured {
		names[n] = true
	}
	for n := range in.OVSDB {
		names[n] = true
	}
	for n := range names {
		h := in.Configured[n]
		h.Name = n
		if st, ok := in.OVSDB[n]; ok {
			if h.OVSDB == "" {
				h.OVSDB = st.Endpoint
			}
			h.SystemID, h.Hostname = st.View.SystemID, st.View.Hostname
			h.Connected, h.Error = st.Connected, st.Error
			if h.TunnelIP == "" {
				h.TunnelIP = st.View.TunnelIP
			}
		}
		if h.TunnelIP == "" {
			h.TunnelIP = endpointIP(h.OVSDB)
		}
		s.Hypervisors = append(s.Hypervisors, h)
	}
	idx := bridgeIndex(in)
	for dpid, sw := range in.Switches {
		x, ports := switchView(dpid, sw, idx)
		s.Switches = append(s.Switches, x)
		s.Ports = append(s.Ports, ports...)
	}
	for _, l := range in.Links {
		s.Links = append(s.Links, l)
	}
	sortSnapshot(&s)
	return s
}

// switchView computes one switch and its ports (sorted) from its OpenFlow
// report and its OVSDB bridge.
func switchView(dpid uint64, sw ofSwitch, idx map[uint64]where) (Switch, []Port) {
	w := idx[dpid]
	if !w.speaksFor(sw.Remote) {
		w = where{} // not from that hypervisor: its OVSDB's word does not count for this session
	}
	x := Switch{DPID: dpid, Bridge: w.bridge.Name, Hypervisor: w.hv, Remote: sw.Remote, Connected: sw.Connected}
	byName := map[string]ovsdb.Port{}
	for _, p := range w.bridge.Ports {
		byName[p.Name] = p
	}
	ports := make([]Port, 0, len(sw.Ports))
	for _, p := range sw.Ports {
		// A port of a switch that is away is not up, whatever it last said.
		port := Port{DPID: dpid, No: p.No, Name: p.Name, MAC: p.MAC, Up: p.Up && sw.Connected, SpeedKbps: p.SpeedKbps}
		if op, ok := byName[p.Name]; ok {
			port.Tag, port.PatchPeer, port.Kind = op.Tag, op.PatchPeer, kindOf(op)
			switch port.Kind {
			case PortVM:
				port.VM = &VM{MAC: op.AttachedMAC, IfaceID: op.IfaceID, UUID: op.VMUUID, Status: op.IfaceStatus}
			case PortTunnel:
				port.Tunnel = &Tunnel{Type: op.Type, RemoteIP: op.RemoteIP, Key: op.Key}
			}
		}
		ports = append(ports, port)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].No < ports[j].No })
	return x, ports
}

// updateSwitch applies fn to the inputs and recomputes only switch dpid
// and its ports: switches connecting, leaving and changing ports cost in
// proportion to that switch, not to the whole network. Everything else
// (OVSDB reports, configuration, links) takes the full path, update.
func (t *Topology) updateSwitch(dpid uint64, fn func(in *inputs) bool) {
	t.locked(func() bool {
		if !fn(&t.in) {
			return false
		}
		return t.commitSwitch(dpid)
	})
}

// commitSwitch recomputes switch dpid's part of the view; t.mu held.
func (t *Topology) commitSwitch(dpid uint64) bool {
	if t.bridges == nil {
		t.bridges = bridgeIndex(t.in)
	}
	next := t.view
	var events []Event
	key := fmt.Sprintf("0x%016x", dpid)

	// The switch.
	i := sort.Search(len(next.Switches), func(i int) bool { return next.Switches[i].DPID >= dpid })
	hadSw := i < len(next.Switches) && next.Switches[i].DPID == dpid
	sw, present := t.in.Switches[dpid]
	var newSw Switch
	var newPorts []Port
	if present {
		newSw, newPorts = switchView(dpid, sw, t.bridges)
	}
	// The view is changed in place, under the write lock: nobody outside
	// holds its slices (Snapshot and Ports hand out copies), and a storm
	// of connects must not copy every switch's ports once per switch.
	switch {
	case present && hadSw:
		if next.Switches[i] != newSw {
			events = append(events, Event{Type: Changed, Kind: "switch", Key: key, Object: newSw})
		}
		next.Switches[i] = newSw
	case present:
		events = append(events, Event{Type: Added, Kind: "switch", Key: key, Object: newSw})
		next.Switches = slices.Insert(next.Switches, i, newSw)
	case hadSw:
		events = append(events, Event{Type: Removed, Kind: "switch", Key: key, Object: next.Switches[i]})
		next.Switches = slices.Delete(next.Switches, i, i+1)
	}

	// Its ports: the run of the sorted list that belongs to dpid.
	lo := sort.Search(len(next.Ports), func(i int) bool { return next.Ports[i].DPID >= dpid })
	hi := sort.Search(len(next.Ports), func(i int) bool { return next.Ports[i].DPID > dpid })
	oldPorts := map[uint32]Port{}
	for _, p := range next.Ports[lo:hi] {
		oldPorts[p.No] = p
	}
	for _, p := range newPorts {
		k := Endpoint{dpid, p.No}.String()
		old, had := oldPorts[p.No]
		switch {
		case !had:
			events = append(events, Event{Type: Added, Kind: "port", Key: k, Object: p})
		case !reflect.DeepEqual(old, p):
			events = append(events, Event{Type: Changed, Kind: "port", Key: k, Object: p})
		}
		delete(oldPorts, p.No)
	}
	for no, p := range oldPorts {
		events = append(events, Event{Type: Removed, Kind: "port", Key: Endpoint{dpid, no}.String(), Object: p})
	}
	if t.portAt == nil {
		t.portAt = map[Endpoint]Port{}
	}
	for _, p := range next.Ports[lo:hi] {
		delete(t.portAt, Endpoint{p.DPID, p.No})
	}
	for _, p := range newPorts {
		t.portAt[Endpoint{p.DPID, p.No}] = p
	}
	next.Ports = slices.Replace(next.Ports, lo, hi, newPorts...)
	sort.SliceStable(events, func(a, b int) bool { return events[a].Key < events[b].Key })
	return t.commit(next, events)
}

func kindOf(p ovsdb.Port) PortKind {
	switch {
	case p.AttachedMAC != "" || p.IfaceID != "" || p.VMUUID != "":
		return PortVM
	case p.Type == "patch":
		return PortPatch
	case p.Type == "vxlan" || p.Type == "gre" || p.Type == "geneve" || p.Type == "stt":
		return PortTunnel
	case p.Type == "internal":
		return PortInternal
	}
	return PortSystem
}

func sortSnapshot(s *Snapshot) {
	sort.Slice(s.Hypervisors, func(i, j int) bool { return s.Hypervisors[i].Name < s.Hypervisors[j].Name })
	sort.Slice(s.Switches, func(i, j int) bool { return s.Switches[i].DPID < s.Switches[j].DPID })
	sort.Slice(s.Ports, func(i, j int) bool {
		a, b := s.Ports[i], s.Ports[j]
		return a.DPID < b.DPID || a.DPID == b.DPID && a.No < b.No
	})
	sort.Slice(s.Links, func(i, j int) bool {
		a, b := s.Links[i], s.Links[j]
		return a.A.less(b.A) || a.A == b.A && a.B.less(b.B)
	})
	sort.Slice(s.Hosts, func(i, j int) bool { return s.Hosts[i].MAC < s.Hosts[j].MAC })
}

// EventType says what happened to an object.
type EventType string

// Event types.
const (
	Added   EventType = "added"
	Changed EventType = "changed"
	Removed EventType = "removed"
)

// Event is one change to the model.
type Event struct {
	Revision uint64    `json:"revision"`
	Type     EventType `json:"type"`
	Kind     string    `json:"kind"` // hypervisor, switch, port, link, host
	Key      string    `json:"key"`
	Object   any       `json:"object"`
}

// diff lists the objects that differ between two models.
func diff(old, next Snapshot) []Event {
	var out []Event
	add := func(kind string, o, n map[string]any) {
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
				out = append(out, Event{Type: Added, Kind: kind, Key: k, Object: nv})
			case !has:
				out = append(out, Event{Type: Removed, Kind: kind, Key: k, Object: ov})
			case !reflect.DeepEqual(ov, nv):
				out = append(out, Event{Type: Changed, Kind: kind, Key: k, Object: nv})
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
			sw[fmt.Sprintf("0x%016x", x.DPID)] = x
		}
		for _, p := range s.Ports {
			po[Endpoint{p.DPID, p.No}.String()] = p
		}
		for _, l := range s.Links {
			li[l.A.String()+"-"+l.B.String()] = l
		}
		return
	}
	oh, os, op, ol := index(old)
	nh, ns, np, nl := index(next)
	add("hypervisor", oh, nh)
	add("switch", os, ns)
	add("port", op, np)
	add("link", ol, nl)
	return out
}

// endpointIP is the IP address of a tcp: or ssl: OVSDB endpoint: the tunnel
// endpoint of last resort for a host whose config and OVSDB name none.
func endpointIP(endpoint string) string {
	_, addr, err := ovsdb.ParseEndpoint(endpoint)
	if err != nil {
		return ""
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String()
	}
	return ""
}
