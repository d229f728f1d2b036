package topology

import (
	"net"
	"net/netip"
	"sort"

	"github.com/loomsdn/loom/ovsdb"
)

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
