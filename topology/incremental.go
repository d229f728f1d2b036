package topology

import (
	"reflect"
	"slices"
	"sort"
)

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
	key := switchKey(dpid)

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
	// holds its memory (reads and events hand out copies, copy.go), and a
	// storm of connects must not copy every switch's ports once per switch.
	switch {
	case present && hadSw:
		if next.Switches[i] != newSw {
			events = append(events, Event{Type: Changed, Kind: KindSwitch, Key: key, Object: newSw})
		}
		next.Switches[i] = newSw
	case present:
		events = append(events, Event{Type: Added, Kind: KindSwitch, Key: key, Object: newSw})
		next.Switches = slices.Insert(next.Switches, i, newSw)
	case hadSw:
		events = append(events, Event{Type: Removed, Kind: KindSwitch, Key: key, Object: next.Switches[i]})
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
			events = append(events, Event{Type: Added, Kind: KindPort, Key: k, Object: p.clone()})
		case !reflect.DeepEqual(old, p):
			events = append(events, Event{Type: Changed, Kind: KindPort, Key: k, Object: p.clone()})
		}
		delete(oldPorts, p.No)
	}
	for no, p := range oldPorts {
		events = append(events, Event{Type: Removed, Kind: KindPort, Key: Endpoint{dpid, no}.String(), Object: p.clone()})
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

// setHost publishes a host change. Hosts live only in the inputs (the
// view leaves them out; Snapshot adds them), so a change costs one map
// write and one event, however many hosts there are. Called with t.mu
// held.
func (t *Topology) setHost(mac string, h *Host) bool {
	ev := Event{Kind: KindHost, Key: mac, Type: Changed}
	switch {
	case h == nil:
		ev.Type, ev.Object = Removed, Host{MAC: mac}
	default:
		ev.Object = h.clone()
		if h.LastSeen.Equal(h.firstSeen) {
			ev.Type = Added
		}
	}
	return t.commit(t.view, []Event{ev})
}
