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
	// Ports are the bridge's OVSDB ports, for rows that refer to them.
	Ports []BridgePort
}

// BridgePort is one OVSDB port of a bridge.
type BridgePort struct {
	Name string
	UUID string // the Port row's, for a row referring to the port
}

// OVSDBPort is one port (and its one interface) an app wants on a bridge.
type OVSDBPort struct {
	Name    string
	Type    string            // the interface type: vxlan, gre, internal, ...
	Options map[string]string // the interface options
}

// BridgeRowDeclarer is an app that wants rows a bridge refers to by a
// column: its sFlow ("sflow"), NetFlow ("netflow") or IPFIX ("ipfix")
// settings, one row each, its port mirrors ("mirrors"), a set of rows
// each known by its name, and a port's QoS ("qos", with Port set; QoS
// rows, a root table, are deleted with their reference). BridgeRows returns each row wanted, with
// its column, as a model of ovsdb/vswitch (*vswitch.SFlow,
// *vswitch.Mirror, ...) with the columns that matter set; its UUID and
// external_ids are Loom's to fill. A row referring to ports (a mirror's
// select and output ports) names them by the UUIDs in br.Ports.
//
// The controller reconciles these as it reconciles ports: it makes a row
// and points the bridge at it, rewrites it when its columns differ (OVS's
// own status columns, such as a mirror's statistics, are never compared
// or written), takes it out of the bridge when no app wants it any more,
// and never touches a row it did not make (an operator's sFlow or mirror
// stays, logged once). The same bridges get changes as for ports (see
// OVSDBDeclarer). One app per one-row column, and per mirror name, on a
// bridge: a second asking for it is logged once.
//
// BridgeRows runs on the hypervisor's goroutine; it must not block.
type BridgeRowDeclarer interface {
	BridgeRows(br HypervisorBridge) []BridgeRow
}

// BridgeRow is one row an app wants a bridge (or one of its ports) to
// refer to.
type BridgeRow struct {
	// Port names the bridge's port whose column it is (qos: the port's
	// QoS); empty: the bridge's own column (sflow, netflow, ipfix,
	// mirrors).
	Port   string
	Column string
	Row    any // a vswitch model of that column's table
}
