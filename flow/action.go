package flow

import (
	"fmt"

	"github.com/loomsdn/loom/openflow"
)

// Action is one apply-action of a flow. It is comparable.
type Action struct {
	kind actionKind
	port uint32 // output
	vid  uint16 // set VLAN
	ct   ctArgs // conntrack
	tun  uint64 // set tunnel: the tun_id, or tun_dst's IPv4 address
}

type actionKind uint8

const (
	actOutput actionKind = iota
	actPushVLAN
	actPopVLAN
	actSetVLAN
	actCT
	actSetTunID
	actSetTunDst
)

// Output forwards to a port.
func Output(port uint32) Action { return Action{port: port} }

// ToController sends the whole packet to the controller.
func ToController() Action { return Action{port: openflow.PortController} }

// Flood sends out of every port but the ingress one.
func Flood() Action { return Action{port: openflow.PortFlood} }

// ToTable resubmits a packet-out to the pipeline (packet-out only).
func ToTable() Action { return Action{port: openflow.PortTable} }

// PushVLAN adds an 802.1Q tag (VLAN 0 until SetVLAN).
func PushVLAN() Action { return Action{kind: actPushVLAN} }

// PopVLAN removes the outer VLAN tag.
func PopVLAN() Action { return Action{kind: actPopVLAN} }

// SetVLAN sets the VLAN id of the outer tag.
func SetVLAN(vid uint16) Action { return Action{kind: actSetVLAN, vid: vid & 0xfff} }

// Port is the port the action outputs to (0 for other actions).
func (a Action) Port() uint32 {
	if a.kind != actOutput {
		return 0
	}
	return a.port
}

// String renders the action in ovs-ofctl syntax.
func (a Action) String() string {
	switch a.kind {
	case actPushVLAN:
		return "push_vlan:0x8100"
	case actPopVLAN:
		return "pop_vlan"
	case actSetVLAN:
		return fmt.Sprintf("set_field:%d->vlan_vid", a.vid|vlanPresent)
	case actCT:
		return a.ct.String()
	case actSetTunID, actSetTunDst:
		return a.tunnelString()
	}
	switch a.port {
	case openflow.PortController:
		return "CONTROLLER:65535"
	case openflow.PortFlood:
		return "FLOOD"
	case openflow.PortAll:
		return "ALL"
	case openflow.PortTable:
		return "TABLE"
	case openflow.PortInPort:
		return "IN_PORT"
	case openflow.PortLocal:
		return "LOCAL"
	case openflow.PortNormal:
		return "NORMAL"
	}
	return fmt.Sprintf("output:%d", a.port)
}

// Wire encodes the action.
func (a Action) Wire() openflow.Action {
	switch a.kind {
	case actPushVLAN:
		return openflow.Action{Type: openflow.ActionPushVlan, EtherType: 0x8100}
	case actPopVLAN:
		return openflow.Action{Type: openflow.ActionPopVlan}
	case actSetVLAN:
		return openflow.Action{Type: openflow.ActionSetField,
			Field: openflow.BasicOXM(openflow.OXMVlanVID, []byte{byte((a.vid | vlanPresent) >> 8), byte(a.vid | vlanPresent)})}
	case actCT:
		return a.ct.wire()
	case actSetTunID, actSetTunDst:
		return a.tunnelWire()
	}
	return openflow.Output(a.port)
}

// WireActions encodes a list of actions.
func WireActions(as []Action) []openflow.Action {
	out := make([]openflow.Action, len(as))
	for i, a := range as {
		out[i] = a.Wire()
	}
	return out
}
