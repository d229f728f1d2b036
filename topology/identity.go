package topology

import (
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/loomsdn/loom/ovsdb"
)

// Which OVSDB speaks for a datapath id, and when its word counts.
//
// Any OVSDB Loom reads can list a bridge with any datapath id, and any
// peer can open an OpenFlow connection announcing any datapath id. So:
//
//   - A datapath id is bound to the hypervisor whose OVSDB listed it
//     first (in.Claims keeps the claimants in the order they came, and is
//     persisted, so a restart keeps the binding). A later claimant never
//     takes it over while the first still lists it; the dpid is contested
//     (Conflicts) and the controller writes to neither OVSDB for it.
//   - The bound OVSDB's view of the bridge (port tags, VM identities,
//     tunnel ports) drives the switch's ports only when the switch's
//     OpenFlow session comes from that hypervisor: its remote IP is one of
//     the hypervisor's addresses (hvAddrs), or both the session and the
//     OVSDB endpoint are local: a unix socket or loopback (loomd on the
//     hypervisor itself, or a lab on one machine). A session that
//     announces the dpid from elsewhere gets its OpenFlow ports only.

// maxClaimants bounds the hypervisors remembered per datapath id: beyond
// the first few, more claimants change nothing (the first keeps it).
const maxClaimants = 8

// claim records name's view: it claims every datapath id it lists (after
// those who claimed it before) and gives up those it no longer lists.
// Called with the topology's lock held (from an update).
func claim(in *inputs, name string, view ovsdb.Hypervisor) {
	if in.Claims == nil {
		in.Claims = map[uint64][]string{}
	}
	lists := make(map[uint64]bool, len(view.Bridges))
	for _, b := range view.Bridges {
		if b.DPID != 0 {
			lists[b.DPID] = true
		}
	}
	for dpid, cs := range in.Claims {
		if i := slices.Index(cs, name); i >= 0 && !lists[dpid] {
			in.claimsGen++
			cs = append(cs[:i:i], cs[i+1:]...)
			if len(cs) == 0 {
				delete(in.Claims, dpid)
			} else {
				in.Claims[dpid] = cs
			}
		}
	}
	for dpid := range lists {
		cs := in.Claims[dpid]
		if slices.Index(cs, name) < 0 && len(cs) < maxClaimants {
			in.claimsGen++
			in.Claims[dpid] = append(cs[:len(cs):len(cs)], name)
		}
	}
}

// reclaim rebuilds the claims of a persisted model that has none (from a
// Loom before claims): hypervisors in name order, so the result is the
// same on every restart rather than whatever map order gives.
func reclaim(in *inputs) {
	names := make([]string, 0, len(in.OVSDB))
	for n := range in.OVSDB {
		names = append(names, n)
	}
	sort.Strings(names)
	in.Claims = map[uint64][]string{}
	for _, n := range names {
		claim(in, n, in.OVSDB[n].View)
	}
}

// where is the OVSDB bridge (and its hypervisor) bound to a datapath id
// (bridgeIndex): what switchView needs of OVSDB for one switch.
type where struct {
	hv     string
	bridge ovsdb.Bridge
	// addrs and local say where the hypervisor's switches connect from
	// (speaksFor).
	addrs []netip.Addr
	local bool
}

// bridgeIndex maps datapath ids to the OVSDB bridge bound to them (the
// first claimant's; see claim).
func bridgeIndex(in inputs) map[uint64]where {
	idx := map[uint64]where{}
	names := make([]string, 0, len(in.OVSDB))
	for n := range in.OVSDB {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		addrs, local := hvAddrs(in, n)
		for _, b := range in.OVSDB[n].View.Bridges {
			cs := in.Claims[b.DPID]
			if b.DPID == 0 || len(cs) == 0 || cs[0] != n {
				continue
			}
			if _, dup := idx[b.DPID]; dup {
				continue // one OVSDB listing a dpid twice: its first bridge by name
			}
			idx[b.DPID] = where{hv: n, bridge: b, addrs: addrs, local: local}
		}
	}
	return idx
}

// hvAddrs are the addresses hypervisor n's switches may connect from: its
// OVSDB endpoint's host and its configured tunnel IP; for a configured
// hypervisor (whose OVSDB the operator chose to trust) also the tunnel IP
// its OVSDB reports. A discovered hypervisor's OVSDB could name anyone's
// address there. local says its OVSDB is on this machine: a unix socket
// or a loopback address.
func hvAddrs(in inputs, n string) (addrs []netip.Addr, local bool) {
	cfg, configured := in.Configured[n]
	st := in.OVSDB[n]
	endpoint := cfg.OVSDB
	if endpoint == "" {
		endpoint = st.Endpoint
	}
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil {
			addrs = append(addrs, a.Unmap())
		}
	}
	if strings.HasPrefix(endpoint, "unix:") {
		local = true
	} else if a, err := netip.ParseAddr(endpointIP(endpoint)); err == nil {
		local = a.Unmap().IsLoopback()
		add(a.String())
	}
	add(cfg.TunnelIP)
	if configured {
		add(st.View.TunnelIP)
	}
	return addrs, local
}

// speaksFor says whether the bridge's hypervisor is where a session from
// remote ("10.0.0.5:43210", or "unix:..." for a unix socket) comes from.
func (w where) speaksFor(remote string) bool {
	if w.hv == "" {
		return false
	}
	if strings.HasPrefix(remote, "unix:") {
		return w.local
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() && w.local {
		return true
	}
	for _, x := range w.addrs {
		if x == a {
			return true
		}
	}
	return false
}

// Binding is what the topology says about one datapath id's OVSDB bridge.
type Binding struct {
	// Hypervisor and Bridge are the bound OVSDB's (empty when none lists
	// the dpid).
	Hypervisor string
	Bridge     string
	// Identified: the switch's session connected from that hypervisor, so
	// its OVSDB view drives the switch's ports.
	Identified bool
	// Claimants lists every hypervisor whose OVSDB lists the dpid, the
	// bound one first; more than one is a conflict.
	Claimants []string
}

// Contested says whether more than one OVSDB lists the datapath id.
func (b Binding) Contested() bool { return len(b.Claimants) > 1 }

// Bind returns dpid's binding.
func (t *Topology) Bind(dpid uint64) Binding {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bridges == nil {
		t.bridges = bridgeIndex(t.in)
	}
	var b Binding
	if w, ok := t.bridges[dpid]; ok {
		b.Hypervisor, b.Bridge = w.hv, w.bridge.Name
		sw, ok := t.in.Switches[dpid]
		b.Identified = ok && sw.Connected && w.speaksFor(sw.Remote)
	}
	b.Claimants = append([]string(nil), t.in.Claims[dpid]...)
	return b
}

// Conflict is a datapath id listed by more than one OVSDB.
type Conflict struct {
	DPID uint64
	// Claimants in the order they came: the first is bound, the others
	// are ignored.
	Claimants []string
}

// ClaimsGeneration changes whenever any claim does (and so Conflicts
// might): a cheap test before Conflicts, which reads every claim.
func (t *Topology) ClaimsGeneration() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.in.claimsGen
}

// Conflicts lists the contested datapath ids, in dpid order.
func (t *Topology) Conflicts() []Conflict {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Conflict
	for dpid, cs := range t.in.Claims {
		if len(cs) > 1 {
			out = append(out, Conflict{DPID: dpid, Claimants: append([]string(nil), cs...)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DPID < out[j].DPID })
	return out
}
