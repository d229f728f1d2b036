package topology

import (
	"slices"
	"time"

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

// newInputs returns inputs with every map made: the setters write to
// them without checking.
func newInputs() inputs {
	return inputs{Configured: map[string]Hypervisor{}, OVSDB: map[string]ovsdbState{},
		Switches: map[uint64]ofSwitch{}, Links: map[string]Link{}, Hosts: map[string]Host{}}
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
		k := linkKey(l)
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
		newIP := ip != "" && !slices.Contains(h.IPs, ip)
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
