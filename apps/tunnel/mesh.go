package tunnel

import (
	"encoding/binary"
	"hash/fnv"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// ProbeVNI is the VNI of health probes; networks may not use it.
const ProbeVNI = network.MaxVNI + 1

// mesh is what one switch needs to know of the others: its own tunnel
// port, the hypervisors it reaches, and which network's MACs and members
// live where.
type mesh struct {
	local   string // the switch's hypervisor
	port    uint32 // its tunnel port (0: none)
	peers   []peer // hypervisors in the mesh, but local, by name
	members map[uint16][]netip.Addr
	macs    map[uint16][]remoteMAC
	// A members view (index.members) keeps no peers or members of its
	// own: they are base's without self (eachPeer, membersOf).
	base *meshBase
	self int
	// local are the networks (by VLAN) with ports on this switch: only
	// their traffic crosses its tunnel, and only their remote MACs are
	// programmed here.
	here map[uint16]bool
}

type peer struct {
	name string
	ip   netip.Addr
}

type remoteMAC struct {
	mac flow.MAC
	ip  netip.Addr
}

// isLoomTunnel says whether a port is a tunnel port Loom made.
func isLoomTunnel(p topology.Port) bool {
	return p.Tunnel != nil && strings.HasPrefix(p.Name, "loom-")
}

// index is the mesh's raw material, computed once per topology revision
// and policy and shared by every switch's view: which hypervisor each
// switch is on, each hypervisor's tunnel IP, which switches have Loom's
// tunnel port, and per hypervisor the networks and MACs of its ports.
type index struct {
	hvOf   map[uint64]string
	ips    map[string]netip.Addr
	tunnel map[uint64]uint32 // dpid -> its tunnel port
	hvs    []string          // hypervisors with a tunnel bridge and an IP, sorted
	vids   map[string]map[uint16]bool
	macs   map[string][]vmac // hypervisor -> MACs of its ports, by network
	byDPID map[uint64]map[uint16]bool
	// connected are the hypervisors with a switch connected now.
	connected map[string]bool
	rev       uint64 // the topology revision it was built from
	// loc lists, per network and MAC, the hypervisors of the mesh it is on
	// (usually one; two while a VM moves), by tunnel IP: the first live
	// one that is not a switch's own is where that switch sends it.
	loc map[vmac][]string
	// hvsByIP is hvs' positions by tunnel IP (then name), vidList each
	// one's networks in order: the members of a switch's view come out
	// sorted. hvPos is each of hvs' position.
	hvsByIP []int
	hvPos   map[string]int
	vidList map[string][]uint16
	seq     uint64 // which index this is, in the order the app built them (delta.go)
	baseMu  sync.Mutex
	base    *meshBase // the last liveness's (baseOf)
}

// vmac is a MAC in one network (by VLAN).
type vmac struct {
	vid uint16
	mac flow.MAC
}

func buildIndex(snap topology.Snapshot, p *network.Policy) *index {
	x := &index{hvOf: map[uint64]string{}, ips: map[string]netip.Addr{}, tunnel: map[uint64]uint32{},
		vids: map[string]map[uint16]bool{}, macs: map[string][]vmac{}, byDPID: map[uint64]map[uint16]bool{},
		connected: map[string]bool{}, rev: snap.Revision}
	for _, s := range snap.Switches {
		x.hvOf[s.DPID] = s.Hypervisor
		if s.Connected && s.Hypervisor != "" {
			x.connected[s.Hypervisor] = true
		}
	}
	for _, h := range snap.Hypervisors {
		if ip, err := netip.ParseAddr(h.TunnelIP); err == nil && ip.Is4() {
			x.ips[h.Name] = ip
		}
	}
	for _, port := range snap.Ports {
		if isLoomTunnel(port) {
			x.tunnel[port.DPID] = port.No
		}
	}
	withTunnel := map[string]bool{}
	for dpid := range x.tunnel {
		if hv := x.hvOf[dpid]; hv != "" && x.ips[hv].IsValid() && !withTunnel[hv] {
			withTunnel[hv] = true
			x.hvs = append(x.hvs, hv)
		}
	}
	sort.Strings(x.hvs)
	// vniVLAN is the network of a port that crosses tunnels.
	vniVLAN := func(port topology.Port) (uint16, bool) {
		mode := p.Mode(port)
		if !mode.UntaggedOK || mode.Untagged == network.DefaultSegment {
			return 0, false
		}
		n, ok := p.Network(mode.Untagged)
		return mode.Untagged, ok && n.VNI != 0
	}
	ports := map[topology.Endpoint]uint16{}
	for _, port := range snap.Ports {
		if port.Tunnel != nil {
			continue
		}
		vid, ok := vniVLAN(port)
		if !ok {
			continue
		}
		ports[topology.Endpoint{DPID: port.DPID, Port: port.No}] = vid
		if x.byDPID[port.DPID] == nil {
			x.byDPID[port.DPID] = map[uint16]bool{}
		}
		x.byDPID[port.DPID][vid] = true
		hv := x.hvOf[port.DPID]
		if _, ok := x.tunnel[port.DPID]; !ok || hv == "" {
			continue // not reachable through a tunnel
		}
		if x.vids[hv] == nil {
			x.vids[hv] = map[uint16]bool{}
		}
		x.vids[hv][vid] = true
		if port.VM != nil {
			if mac, err := flow.ParseMAC(port.VM.MAC); err == nil {
				x.macs[hv] = append(x.macs[hv], vmac{vid, mac})
			}
		}
	}
	for _, h := range snap.Hosts {
		vid, ok := ports[topology.Endpoint{DPID: h.DPID, Port: h.Port}]
		hv := x.hvOf[h.DPID]
		if _, tunneled := x.tunnel[h.DPID]; !ok || !tunneled || hv == "" {
			continue
		}
		if mac, err := flow.ParseMAC(h.MAC); err == nil {
			x.macs[hv] = append(x.macs[hv], vmac{vid, mac})
		}
	}
	x.locate(withTunnel)
	x.hvPos = make(map[string]int, len(x.hvs))
	x.hvsByIP = make([]int, len(x.hvs))
	for i, hv := range x.hvs {
		x.hvPos[hv], x.hvsByIP[i] = i, i
	}
	slices.SortFunc(x.hvsByIP, func(a, b int) int { return x.byIP(x.hvs[a], x.hvs[b]) })
	x.vidList = make(map[string][]uint16, len(x.vids))
	for hv, vids := range x.vids {
		x.vidList[hv] = slices.Sorted(maps.Keys(vids))
	}
	return x
}

// locate fills loc from the MACs of the hypervisors in the mesh.
func (x *index) locate(inMesh map[string]bool) {
	x.loc = map[vmac][]string{}
	for hv, vms := range x.macs {
		if !inMesh[hv] {
			continue
		}
		for _, vm := range vms {
			if at := x.loc[vm]; len(at) == 0 || at[len(at)-1] != hv {
				x.loc[vm] = append(at, hv)
			}
		}
	}
	for vm, at := range x.loc {
		if len(at) > 1 {
			at = slices.Compact(slices.SortedFunc(slices.Values(at), x.byIP))
			x.loc[vm] = at
		}
	}
}

// byIP orders hypervisors by tunnel IP, then name: dedupe's order.
func (x *index) byIP(a, b string) int {
	if c := x.ips[a].Compare(x.ips[b]); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// live says, for each of an index's hvs (by position), whether it counts
// as present: connected, or gone for less than the peer timeout.
type live []bool

// liveFrom is the live of x by a rule.
func (x *index) liveFrom(alive func(hv string) bool) live {
	l := make(live, len(x.hvs))
	for i, hv := range x.hvs {
		l[i] = alive(hv)
	}
	return l
}

// isLive says whether hv is in the mesh and alive.
func (x *index) isLive(l live, hv string) bool {
	i, ok := x.hvPos[hv]
	return ok && l[i]
}

// where is the tunnel IP a switch on local sends vm to: the first
// hypervisor holding it that is not local and is alive.
func (x *index) where(vm vmac, local string, l live) (netip.Addr, bool) {
	for _, hv := range x.loc[vm] {
		if hv != local && x.isLive(l, hv) {
			return x.ips[hv], true
		}
	}
	return netip.Addr{}, false
}

// buildMesh computes dpid's view of the mesh from the topology and the
// policy. alive says whether a hypervisor counts as present (connected,
// or gone for less than the peer timeout).
func buildMesh(snap topology.Snapshot, p *network.Policy, dpid uint64, alive func(hv string) bool) mesh {
	x := buildIndex(snap, p)
	return x.view(dpid, x.liveFrom(alive))
}

// view is one switch's mesh: the live peers, and for the networks with
// ports on this switch, which peers have members and which MACs live there.
// noMesh is the view of a switch that is part of no mesh.
func noMesh() mesh {
	return mesh{members: map[uint16][]netip.Addr{}, macs: map[uint16][]remoteMAC{}, here: map[uint16]bool{}}
}

func (x *index) view(dpid uint64, l live) mesh { return x.viewOf(dpid, l, true) }

// members is a view without the remote MACs: who is in the mesh and in
// which networks, what other apps' flows (flooding) follow.
func (x *index) members(dpid uint64, l live) mesh {
	m := mesh{here: map[uint16]bool{}}
	m.local, m.port = x.hvOf[dpid], x.tunnel[dpid]
	if m.local == "" || m.port == 0 || !x.ips[m.local].IsValid() {
		return noMesh()
	}
	for vid := range x.byDPID[dpid] {
		m.here[vid] = true
	}
	m.base, m.self = x.baseOf(l), x.hvPos[m.local]
	return m
}

// eachPeer calls fn for every hypervisor in the view, by name.
func (m mesh) eachPeer(fn func(peer)) {
	if m.base == nil {
		for _, p := range m.peers {
			fn(p)
		}
		return
	}
	for i, p := range m.base.peers {
		if m.base.peerPos[i] != m.self {
			fn(p)
		}
	}
}

// membersOf lists, by tunnel IP, the other hypervisors with ports in
// network vid, if the switch has ports in it.
func (m mesh) membersOf(vid uint16) []netip.Addr {
	if m.base == nil {
		return m.members[vid]
	}
	if !m.here[vid] {
		return nil
	}
	var out []netip.Addr
	for _, e := range m.base.members[vid] {
		if e.pos != m.self {
			out = append(out, e.ip)
		}
	}
	return out
}

// meshBase is what every switch's members view is made of under one
// index and liveness: the live hypervisors by name, and per network the
// live ones with ports in it by tunnel IP. A switch's view is this
// without its own hypervisor, read in place: a join, which changes every
// switch's members, costs one base, not a copy per switch.
type meshBase struct {
	live    live
	peers   []peer
	peerPos []int
	members map[uint16][]member
	digest  uint64 // a hash of all of it, for the views' sums
}

type member struct {
	pos int // in index.hvs
	ip  netip.Addr
}

// baseOf returns the base for l, built once per index and liveness.
func (x *index) baseOf(l live) *meshBase {
	x.baseMu.Lock()
	defer x.baseMu.Unlock()
	if x.base != nil && slices.Equal(x.base.live, l) {
		return x.base
	}
	b := &meshBase{live: slices.Clone(l), members: map[uint16][]member{}}
	for i, hv := range x.hvs {
		if l[i] {
			b.peers = append(b.peers, peer{hv, x.ips[hv]})
			b.peerPos = append(b.peerPos, i)
		}
	}
	for _, i := range x.hvsByIP {
		if !l[i] {
			continue
		}
		hv := x.hvs[i]
		for _, vid := range x.vidList[hv] {
			b.members[vid] = append(b.members[vid], member{i, x.ips[hv]})
		}
	}
	b.digest = b.sum()
	x.base = b
	return b
}

func (b *meshBase) sum() uint64 {
	h := fnv.New64a()
	var buf []byte
	for i, p := range b.peers {
		buf = binary.BigEndian.AppendUint32(append(append(buf, p.name...), 0), uint32(b.peerPos[i]))
		buf = append(buf, p.ip.AsSlice()...)
	}
	for _, vid := range slices.Sorted(maps.Keys(b.members)) {
		buf = binary.BigEndian.AppendUint16(buf, vid)
		for _, e := range b.members[vid] {
			buf = binary.BigEndian.AppendUint32(append(buf, e.ip.AsSlice()...), uint32(e.pos))
		}
	}
	h.Write(buf)
	return h.Sum64()
}

func (x *index) viewOf(dpid uint64, l live, withMACs bool) mesh {
	m := mesh{members: map[uint16][]netip.Addr{}, macs: map[uint16][]remoteMAC{}, here: map[uint16]bool{}}
	m.local, m.port = x.hvOf[dpid], x.tunnel[dpid]
	if m.local == "" || m.port == 0 || !x.ips[m.local].IsValid() {
		return noMesh()
	}
	for vid := range x.byDPID[dpid] {
		m.here[vid] = true
	}
	m.peers = make([]peer, 0, len(x.hvs))
	for i, hv := range x.hvs {
		if hv == m.local || !l[i] {
			continue
		}
		ip := x.ips[hv]
		m.peers = append(m.peers, peer{hv, ip})
		if !withMACs {
			continue
		}
		for _, vm := range x.macs[hv] {
			if m.here[vm.vid] {
				m.macs[vm.vid] = append(m.macs[vm.vid], remoteMAC{vm.mac, ip})
			}
		}
	}
	// Members by tunnel IP: hvsByIP is in that order already.
	for _, i := range x.hvsByIP {
		hv := x.hvs[i]
		if hv == m.local || !l[i] {
			continue
		}
		for _, vid := range x.vidList[hv] {
			if m.here[vid] {
				m.members[vid] = append(m.members[vid], x.ips[hv])
			}
		}
	}
	for vid, macs := range m.macs {
		m.macs[vid] = dedupe(macs)
	}
	return m
}

// dedupe keeps one location per MAC (the first in MAC order wins when a
// moving VM shows up on two hosts for a moment).
func dedupe(macs []remoteMAC) []remoteMAC {
	sort.Slice(macs, func(i, j int) bool {
		if macs[i].mac != macs[j].mac {
			return string(macs[i].mac[:]) < string(macs[j].mac[:])
		}
		return macs[i].ip.Less(macs[j].ip)
	})
	out := macs[:0]
	for i, x := range macs {
		if i == 0 || x.mac != macs[i-1].mac {
			out = append(out, x)
		}
	}
	return out
}

// tunnelSwitch returns one switch of hv that holds Loom's tunnel port.
func (x *index) tunnelSwitch(hv string) (uint64, bool) {
	var best uint64
	for dpid := range x.tunnel {
		if x.hvOf[dpid] == hv && (best == 0 || dpid < best) {
			best = dpid
		}
	}
	return best, best != 0
}
