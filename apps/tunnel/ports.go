package tunnel

import "github.com/loomsdn/loom/apps"

// PortName is the name of the flow-based tunnel port of a type
// ("loom-vxlan", "loom-gre"): one fixed name per bridge and type, so
// OVSDB's unique port names make a second one impossible.
func PortName(typ string) string { return "loom-" + typ }

// BridgePorts implements apps.OVSDBDeclarer: one flow-based tunnel port
// (remote_ip=flow, key=flow: flows choose the peer and the VNI, so a mesh
// of any size needs one port per bridge) on every tunnel bridge. A bridge
// keeps its port while its switch is connected or away for less than the
// peer timeout (a loomd restart, a switch reconnecting), and loses it
// when the switch is gone for good.
func (a *App) BridgePorts(br apps.HypervisorBridge) []apps.OVSDBPort {
	if a.o.PortType == "" || !br.Known || br.AwayFor >= a.o.PeerTimeout || !a.tunnelBridge(br) {
		return nil
	}
	return []apps.OVSDBPort{{Name: PortName(a.o.PortType), Type: a.o.PortType,
		Options: map[string]string{"remote_ip": "flow", "key": "flow"}}}
}

// tunnelBridge says whether br should hold a tunnel port: the bridge the
// config names, or else any bridge with a VM port.
func (a *App) tunnelBridge(br apps.HypervisorBridge) bool {
	if a.o.Bridge != "" {
		return br.Name == a.o.Bridge
	}
	return br.VMPorts
}
