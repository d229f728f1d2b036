package flow

import (
	"fmt"

	"github.com/loomsdn/loom/openflow"
)

// Action is one apply-action of a flow.
type Action struct {
	port uint32
}

// Output forwards to a port.
func Output(port uint32) Action { return Action{port: port} }

// ToController sends the whole packet to the controller.
func ToController() Action { return Action{port: openflow.PortController} }

// Flood sends out of every port but the ingress one.
func Flood() Action { return Action{port: openflow.PortFlood} }

// ToTable resubmits a packet-out to the pipeline (packet-out only).
func ToTable() Action { return Action{port: openflow.PortTable} }

// Port is the port the action outputs to.
func (a Action) Port() uint32 { return a.port }

// String renders the action in ovs-ofctl syntax.
func (a Action) String() string {
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
func (a Action) Wire() openflow.Action { return openflow.Output(a.port) }

// WireActions encodes a list of actions.
func WireActions(as []Action) []openflow.Action {
	out := make([]openflow.Action, len(as))
	for i, a := range as {
		out[i] = a.Wire()
	}
	return out
}
