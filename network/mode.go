package network

import (
	"slices"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/topology"
)

// DefaultSegment is the VLAN id of the untagged segment that ports in no
// network form: they reach each other and nothing else.
const DefaultSegment uint16 = 0

// Mode is how one port carries networks.
type Mode struct {
	// Untagged is the VLAN untagged frames on the port belong to (an
	// access port's network, a trunk's native VLAN, or DefaultSegment);
	// valid only when UntaggedOK.
	Untagged   uint16
	UntaggedOK bool
	// Tagged are the VLANs the port carries with their tag (trunks).
	Tagged []uint16
	// Why says which declaration decided, for logs and the API.
	Why string
}

// Carries reports whether the port carries vid, and whether with its tag.
func (m Mode) Carries(vid uint16) (tagged, ok bool) {
	if slices.Contains(m.Tagged, vid) {
		return true, true
	}
	return false, m.UntaggedOK && m.Untagged == vid
}

// Mode resolves a port: a trunk declaration first, then network membership
// by name or glob, libvirt iface-id or VM id, then the OVSDB tag libvirt
// set from a portgroup, and otherwise the default segment.
func (p *Policy) Mode(port topology.Port) Mode {
	for _, t := range p.spec.Trunks {
		if matchName(t.Port, port.Name) {
			m := Mode{Why: "trunk " + t.Port}
			for _, v := range t.VLANs {
				if v != t.Native {
					m.Tagged = append(m.Tagged, uint16(v))
				}
			}
			if t.Native != 0 {
				m.Untagged, m.UntaggedOK = uint16(t.Native), true
			}
			return m
		}
	}
	if n := p.member(port); n != nil {
		return Mode{Untagged: uint16(n.VLAN), UntaggedOK: true, Why: "network " + n.Name}
	}
	if port.Tag >= 1 && port.Tag <= 4094 {
		return Mode{Untagged: uint16(port.Tag), UntaggedOK: true, Why: "ovsdb tag"}
	}
	return Mode{Untagged: DefaultSegment, UntaggedOK: true, Why: "default segment"}
}

// member returns the network a port is declared in, if any.
func (p *Policy) member(port topology.Port) *Network {
	if port.VM != nil {
		if n := p.ifaceIDs[port.VM.IfaceID]; n != nil && port.VM.IfaceID != "" {
			return n
		}
		if n := p.vms[port.VM.UUID]; n != nil && port.VM.UUID != "" {
			return n
		}
	}
	for i := range p.spec.Networks {
		n := &p.spec.Networks[i]
		for _, g := range n.Ports {
			if matchName(g, port.Name) {
				return n
			}
		}
	}
	return nil
}

// Egress returns the actions that deliver a frame of vid, as it travels
// inside the pipeline (tagged, unless of the default segment), out of port
// in mode m: tagged on a trunk, untagged on an access port.
func (m Mode) Egress(port uint32, vid uint16) ([]flow.Action, bool) {
	tagged, ok := m.Carries(vid)
	switch {
	case !ok:
		return nil, false
	case tagged || vid == DefaultSegment:
		return []flow.Action{flow.Output(port)}, true
	}
	return []flow.Action{flow.PopVLAN(), flow.Output(port)}, true
}

// MatchVLAN narrows a match to the frames of vid inside the pipeline.
func MatchVLAN(m flow.Match, vid uint16) flow.Match {
	if vid == DefaultSegment {
		return m.Untagged()
	}
	return m.VLAN(vid)
}
