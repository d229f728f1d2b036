package ovsdb

// Hypervisor is what one OVSDB says about its host.
type Hypervisor struct {
	Name     string // as configured
	SystemID string // Open_vSwitch external_ids:system-id
	Hostname string // Open_vSwitch external_ids:hostname
	// TunnelIP is Open_vSwitch external_ids:loom-tunnel-ip, the host's
	// tunnel endpoint when the config does not name one.
	TunnelIP string
	Bridges  []Bridge
}

// Bridge is one OVS bridge.
type Bridge struct {
	UUID     string
	Name     string
	DPID     uint64 // 0 until vswitchd has assigned one
	FailMode string
	// LoomOwned lists what Loom stamped on this bridge (external_ids
	// loom-owned), e.g. "fail_mode".
	LoomOwned string
	// Controllers are the bridge's controller targets ("tcp:10.0.0.5:6653",
	// "unix:/run/loom.sock"), sorted: whom the operator pointed it at.
	Controllers []string
	Ports       []Port
	// Attached are the rows the bridge refers to by column (sflow,
	// netflow, ipfix: one each; mirrors: a set; attached.go). Only Loom's
	// own rows are read in full; they are compared with what apps want,
	// never stored.
	Attached map[string][]AttachedRow `json:"-"`
}

// Port is one OVS port with its (first) interface.
type Port struct {
	UUID   string // the Port row's
	Name   string
	Type   string // "" (system), "internal", "patch", "vxlan", ...
	OfPort int    // -1 when OVS could not add it, 0 before it has one
	Tag    int    // access VLAN, 0 when none
	MAC    string // interface mac_in_use
	LinkUp bool
	// What libvirt records on the Interface row of a VM port.
	AttachedMAC string // external_ids:attached-mac
	IfaceID     string // external_ids:iface-id
	VMUUID      string // external_ids:vm-uuid
	IfaceStatus string // external_ids:iface-status
	// PatchPeer is options:peer of a patch port.
	PatchPeer string
	// RemoteIP and Key are options:remote_ip and options:key of a tunnel port.
	RemoteIP string
	Key      string
	// LoomOwned is the Port's external_ids:loom-owned: the app that made
	// it ("tunnel" on the mesh's tunnel ports), "" on everyone else's.
	LoomOwned string
	// Options are the interface's options, read only for Loom's own ports
	// (LoomOwned set): Loom compares them with what the app wants.
	Options map[string]string
	// Attached are the rows the port refers to (qos), as Bridge.Attached.
	Attached map[string][]AttachedRow `json:"-"`
}

// Bridge returns the bridge with datapath id dpid.
func (h Hypervisor) Bridge(dpid uint64) (Bridge, bool) {
	for _, b := range h.Bridges {
		if b.DPID == dpid {
			return b, true
		}
	}
	return Bridge{}, false
}
