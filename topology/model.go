package topology

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hypervisor is a KVM host, as configured and as its OVSDB describes it.
type Hypervisor struct {
	Name      string `json:"name"`
	OVSDB     string `json:"ovsdb"`
	TunnelIP  string `json:"tunnel_ip,omitempty"`
	SystemID  string `json:"system_id,omitempty"`
	Hostname  string `json:"hostname,omitempty"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"` // why the OVSDB connection is down
}

// Switch is an OpenFlow datapath: an OVS bridge.
type Switch struct {
	DPID       uint64 `json:"dpid"`
	Bridge     string `json:"bridge,omitempty"`
	Hypervisor string `json:"hypervisor,omitempty"`
	Remote     string `json:"remote,omitempty"`
	Connected  bool   `json:"connected"`
}

// PortKind says what is behind a port.
type PortKind string

// Port kinds.
const (
	PortVM       PortKind = "vm"       // a VM interface (libvirt external_ids)
	PortPatch    PortKind = "patch"    // an OVS patch port to another bridge
	PortTunnel   PortKind = "tunnel"   // vxlan, gre, geneve
	PortInternal PortKind = "internal" // the bridge's own interface
	PortSystem   PortKind = "system"   // a physical or veth interface
)

// VM is the libvirt identity recorded on a VM port's Interface row.
type VM struct {
	MAC     string `json:"mac"`
	IfaceID string `json:"iface_id,omitempty"`
	UUID    string `json:"uuid,omitempty"`
	Status  string `json:"status,omitempty"`
}

// Port is one port of a switch.
type Port struct {
	DPID      uint64   `json:"dpid"`
	No        uint32   `json:"no"`
	Name      string   `json:"name"`
	MAC       string   `json:"mac,omitempty"`
	Up        bool     `json:"up"`
	SpeedKbps uint32   `json:"speed_kbps,omitempty"`
	Kind      PortKind `json:"kind,omitempty"`
	Tag       int      `json:"tag,omitempty"`
	PatchPeer string   `json:"patch_peer,omitempty"`
	VM        *VM      `json:"vm,omitempty"`
	// Tunnel is set on tunnel ports: its type and far end.
	Tunnel *Tunnel `json:"tunnel,omitempty"`
}

// Tunnel describes a tunnel port (vxlan, gre, geneve).
type Tunnel struct {
	Type     string `json:"type"`
	RemoteIP string `json:"remote_ip,omitempty"`
	Key      string `json:"key,omitempty"`
}

// Endpoint is one end of a link.
type Endpoint struct {
	DPID uint64 `json:"dpid"`
	Port uint32 `json:"port"`
}

func (e Endpoint) String() string { return fmt.Sprintf("0x%016x:%d", e.DPID, e.Port) }

func (e Endpoint) less(o Endpoint) bool {
	return e.DPID < o.DPID || e.DPID == o.DPID && e.Port < o.Port
}

// Link joins two switch ports. A and B are ordered, so a link has one form.
type Link struct {
	A Endpoint `json:"a"`
	B Endpoint `json:"b"`
}

// NewLink returns the link between x and y in its canonical order.
func NewLink(x, y Endpoint) Link {
	if y.less(x) {
		x, y = y, x
	}
	return Link{A: x, B: y}
}

// Host is an end station seen on the network.
type Host struct {
	MAC      string    `json:"mac"`
	IPs      []string  `json:"ips,omitempty"`
	DPID     uint64    `json:"dpid"`
	Port     uint32    `json:"port"`
	VLAN     int       `json:"vlan,omitempty"`
	LastSeen time.Time `json:"last_seen"`
	// firstSeen tells a new host from a known one; not part of the model.
	firstSeen time.Time
}

// Snapshot is the whole model at one revision.
type Snapshot struct {
	Revision    uint64       `json:"revision"`
	Hypervisors []Hypervisor `json:"hypervisors"`
	Switches    []Switch     `json:"switches"`
	Ports       []Port       `json:"ports"`
	Links       []Link       `json:"links"`
	Hosts       []Host       `json:"hosts"`
}

// ParseEndpoint reads an Endpoint as String writes it (0x<16 hex>:port).
func ParseEndpoint(s string) (Endpoint, error) {
	d, p, ok := strings.Cut(s, ":")
	if !ok || len(d) != 18 || !strings.HasPrefix(d, "0x") {
		return Endpoint{}, fmt.Errorf("endpoint %q: want 0x<16 hex digits>:port", s)
	}
	dpid, err := strconv.ParseUint(d[2:], 16, 64)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: datapath id: %w", s, err)
	}
	port, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: port: %w", s, err)
	}
	return Endpoint{DPID: dpid, Port: uint32(port)}, nil
}
