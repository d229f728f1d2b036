package apps

import "time"

// OVSDBDeclarer is an app that wants ports on hypervisors' bridges, each
// port with its one interface: the tunnel mesh's flow-based tunnel port
// today; a mirror's output port or a rate-limited port next.
//
// The controller asks every declarer about every bridge of a hypervisor
// after each change in that hypervisor's OVSDB, and reconciles the
// answers as it reconciles flows: it adds a wanted port that is missing,
// replaces a port of the app's whose type or options differ, removes the
// app's ports nobody wants any more, and never touches a row it did not
// make. Each row Loom makes carries external_ids:loom-owned=<app name>;
// a wanted name held by someone else's port is left alone and logged
// once. A bridge another controller masters, or whose identity is
// contested, gets no change; a port is added only to a bridge that is
// Loom's (controller/identity.go), while removing the app's own port
// needs only its stamp: that is the cleanup after a bridge leaves Loom.
//
// BridgePorts runs on the hypervisor's goroutine; it must not block.
type OVSDBDeclarer interface {
	BridgePorts(br HypervisorBridge) []OVSDBPort
}

// HypervisorBridge is one bridge as its hypervisor's OVSDB and Loom's
// sessions see it.
type HypervisorBridge struct {
	Hypervisor string
	Name       string
	DPID       uint64
	// VMPorts says whether a port of the bridge has a VM on it (libvirt's
	// attached-mac or iface-id).
	VMPorts bool
	// Known says whether Loom knows the bridge's switch: connected now, or
	// in the model restored from an earlier run.
	Known bool
	// AwayFor is how long the switch has been disconnected (0 while
	// connected, and for a switch never seen this run).
	AwayFor time.Duration
}

// OVSDBPort is one port (and its one interface) an app wants on a bridge.
type OVSDBPort struct {
	Name    string
	Type    string            // the interface type: vxlan, gre, internal, ...
	Options map[string]string // the interface options
}

// BridgeRowDeclarer is an app that wants a row a bridge refers to by one
// column: its sFlow ("sflow"), NetFlow ("netflow") or IPFIX ("ipfix")
// settings. BridgeRows returns, by column, the row wanted as a model of
// ovsdb/vswitch (*vswitch.SFlow, ...) with the columns that matter set;
// its UUID and external_ids are Loom's to fill.
//
// The controller reconciles these as it reconciles ports: it makes the
// row and points the bridge at it, rewrites it when its columns differ,
// clears the column when no app wants it any more, and never touches a
// row it did not make (an operator's sFlow on a bridge stays, logged
// once). The same bridges get changes as for ports (see OVSDBDeclarer).
// One app per column and bridge: a second asking for it is logged once.
//
// BridgeRows runs on the hypervisor's goroutine; it must not block.
type BridgeRowDeclarer interface {
	BridgeRows(br HypervisorBridge) map[string]any
}
