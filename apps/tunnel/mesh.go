package tunnel

import (
	"net/netip"
	"sort"
	"strings"

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

// buildMesh computes dpid's view of the mesh from the topology and the
// policy. alive says whether a hypervisor counts as present (connected,
// or gone for less than the peer timeout).
func buildMesh(snap topology.Snapshot, p *network.Policy, dpid uint64, alive func(hv string) bool) mesh {
	m := mesh{members: map[uint16][]netip.Addr{}, macs: map[uint16][]remoteMAC{}, here: map[uint16]bool{}}
	hvOf := map[uint64]string{}
	for _, s := range snap.Switches {
		hvOf[s.DPID] = s.Hypervisor
	}
	m.local = hvOf[dpid]
	ips := map[string]netip.Addr{}
	for _, h := range snap.Hypervisors {
		if ip, err := netip.ParseAddr(h.TunnelIP); err == nil && ip.Is4() {
			ips[h.Name] = ip
		}
	}
	tunnelSwitch := map[uint64]bool{}
	for _, port := range snap.Ports {
		if isLoomTunnel(port) {
			tunnelSwitch[port.DPID] = true
			if port.DPID == dpid {
				m.port = port.No
			}
		}
	}
	if m.local == "" || m.port == 0 || !ips[m.local].IsValid() {
		return m // not part of any mesh
	}
	// remote says where a port's frames go: its hypervisor's IP, if that
	// hypervisor is another live member of the mesh.
	remote := func(dpid uint64) (netip.Addr, bool) {
		hv := hvOf[dpid]
		ip, ok := ips[hv]
		if hv == "" || hv == m.local || !ok || !tunnelSwitch[dpid] || !alive(hv) {
			return netip.Addr{}, false
		}
		return ip, true
	}
	inPeers := map[string]bool{}
	vniVLAN := func(port topology.Port) (uint16, bool) {
		mode := p.Mode(port)
		if !mode.UntaggedOK || mode.Untagged == network.DefaultSegment {
			return 0, false
		}
		n, ok := p.Network(mode.Untagged)
		return mode.Untagged, ok && n.VNI != 0
	}
	for _, port := range snap.Ports {
		if port.DPID == dpid && port.Tunnel == nil {
			if vid, ok := vniVLAN(port); ok {
				m.here[vid] = true
			}
		}
	}
	for _, port := range snap.Ports {
		ip, ok := remote(port.DPID)
		if !ok || port.Tunnel != nil {
			continue
		}
		if !inPeers[hvOf[port.DPID]] {
			inPeers[hvOf[port.DPID]] = true
			m.peers = append(m.peers, peer{hvOf[port.DPID], ip})
		}
		vid, ok := vniVLAN(port)
		if !ok {
			continue
		}
		m.members[vid] = appendIP(m.members[vid], ip)
		if port.VM != nil {
			if mac, err := flow.ParseMAC(port.VM.MAC); err == nil {
				m.macs[vid] = append(m.macs[vid], remoteMAC{mac, ip})
			}
		}
	}
	ports := map[topology.Endpoint]topology.Port{}
	for _, port := range snap.Ports {
		ports[topology.Endpoint{DPID: port.DPID, Port: port.No}] = port
	}
	for _, h := range snap.Hosts {
		ip, ok := remote(h.DPID)
		port, known := ports[topology.Endpoint{DPID: h.DPID, Port: h.Port}]
		if !ok || !known {
			continue
		}
		if vid, ok := vniVLAN(port); ok {
			if mac, err := flow.ParseMAC(h.MAC); err == nil {
				m.macs[vid] = append(m.macs[vid], remoteMAC{mac, ip})
			}
		}
	}
	for _, h := range snap.Hypervisors {
		// A hypervisor with a tunnel bridge but no VM yet is still a peer
		// (probed, shown); it just receives no network's traffic.
		if ip, ok := ips[h.Name]; ok && h.Name != m.local && !inPeers[h.Name] && alive(h.Name) && hasTunnel(snap, h.Name, tunnelSwitch) {
			inPeers[h.Name] = true
			m.peers = append(m.peers, peer{h.Name, ip})
		}
	}
	sort.Slice(m.peers, func(i, j int) bool { return m.peers[i].name < m.peers[j].name })
	for vid, macs := range m.macs {
		m.macs[vid] = dedupe(macs)
	}
	return m
}

func hasTunnel(snap topology.Snapshot, hv string, tunnelSwitch map[uint64]bool) bool {
	for _, s := range snap.Switches {
		if s.Hypervisor == hv && tunnelSwitch[s.DPID] {
			return true
		}
	}
	return false
}

func appendIP(ips []netip.Addr, ip netip.Addr) []netip.Addr {
	for _, x := range ips {
		if x == ip {
			return ips
		}
	}
	ips = append(ips, ip)
	sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	return ips
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
