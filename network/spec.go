// Package network is the model of Loom's virtual networks as operators
// declare them: networks (a VLAN, a VNI and member ports), trunk ports, and
// ordered ACL rules. Spec is the declaration as written (config file or
// API); Compile validates it whole and resolves it into a Policy that says,
// for any switch port, which VLANs it carries and how.
package network

import "fmt"

// Spec is everything an operator declares about networks. The config file
// and the API each hold one; Loom runs their merge.
type Spec struct {
	Networks []Network `yaml:"networks" json:"networks,omitempty"`
	Trunks   []Trunk   `yaml:"trunks" json:"trunks,omitempty"`
	ACLs     []Rule    `yaml:"acls" json:"acls,omitempty"`

	// Set by Merge: the ACLs from apiRulesFrom on came through the API.
	merged       bool
	apiRulesFrom int
}

// Network is one isolated L2 segment: a VLAN on the access side, a VNI
// across tunnels.
type Network struct {
	Name string `yaml:"name" json:"name"`
	VLAN int    `yaml:"vlan" json:"vlan"`
	VNI  int    `yaml:"vni" json:"vni,omitempty"`
	// Ports are member port names or globs ("centos01_port1", "web-*").
	Ports []string `yaml:"ports" json:"ports,omitempty"`
	// IfaceIDs and VMs select ports by libvirt's external_ids:iface-id and
	// vm-uuid, as OVSDB reports them.
	IfaceIDs []string `yaml:"iface_ids" json:"iface_ids,omitempty"`
	VMs      []string `yaml:"vm_ids" json:"vm_ids,omitempty"`
	// Default is the ACL policy for traffic no rule matches: allow (the
	// default) or deny.
	Default string `yaml:"default" json:"default,omitempty"`
	// Stateful tracks IP connections (OVS conntrack): an allowed
	// connection's return traffic passes, invalid packets are dropped.
	Stateful bool `yaml:"stateful" json:"stateful,omitempty"`
}

// Trunk is a port carrying several networks' VLANs tagged.
type Trunk struct {
	// Port is a port name or glob.
	Port  string `yaml:"port" json:"port"`
	VLANs []int  `yaml:"vlans" json:"vlans"`
	// Native, when set, is the VLAN untagged frames on the trunk join.
	Native int `yaml:"native" json:"native,omitempty"`
}

// Rule is one ACL rule. Rules apply in the order listed, to frames entering
// a network (optionally only through InPort); the first that matches
// decides.
type Rule struct {
	Name string `yaml:"name" json:"name"`
	// Network (by name) or VLAN (a network's VLAN id) scopes the rule.
	Network string `yaml:"network" json:"network,omitempty"`
	VLAN    int    `yaml:"vlan" json:"vlan,omitempty"`
	// InPort limits the rule to frames entering ports of this name or glob.
	InPort string `yaml:"in_port" json:"in_port,omitempty"`
	// EthType is ipv4, ipv6, arp or a number like 0x0800. It follows from
	// the addresses or protocol when left out.
	EthType string `yaml:"eth_type" json:"eth_type,omitempty"`
	// Src and Dst are IPv4 or IPv6 addresses or CIDR prefixes.
	Src string `yaml:"src" json:"src,omitempty"`
	Dst string `yaml:"dst" json:"dst,omitempty"`
	// Proto is tcp, udp, sctp, icmp, icmpv6 or an IP protocol number.
	Proto string `yaml:"proto" json:"proto,omitempty"`
	// SrcPort and DstPort are an L4 port ("8080") or range ("1000-2000").
	SrcPort string `yaml:"src_port" json:"src_port,omitempty"`
	DstPort string `yaml:"dst_port" json:"dst_port,omitempty"`
	// ICMPType and ICMPCode match ICMP (or ICMPv6) messages.
	ICMPType *int `yaml:"icmp_type" json:"icmp_type,omitempty"`
	ICMPCode *int `yaml:"icmp_code" json:"icmp_code,omitempty"`
	// Action is allow or deny.
	Action string `yaml:"action" json:"action"`
}

// FieldError names the field of a Spec that is wrong, as a dotted path
// with indices ("acls[2].dst_port"), so the config loader can point at its
// line and the API can name it.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Merge returns the file's declarations followed by the API's. A name
// declared in both is an error naming the API's copy.
func Merge(file, api Spec) (Spec, error) {
	out := Spec{
		Networks: append(append([]Network(nil), file.Networks...), api.Networks...),
		Trunks:   append(append([]Trunk(nil), file.Trunks...), api.Trunks...),
		ACLs:     append(append([]Rule(nil), file.ACLs...), api.ACLs...),
		merged:   true, apiRulesFrom: len(file.ACLs),
	}
	for i, n := range api.Networks {
		for _, f := range file.Networks {
			if f.Name == n.Name {
				return out, fieldErr(fmt.Sprintf("networks[%d].name", len(file.Networks)+i), "%q is already declared in the config file", n.Name)
			}
		}
	}
	for i, tr := range api.Trunks {
		for _, f := range file.Trunks {
			if f.Port == tr.Port {
				return out, fieldErr(fmt.Sprintf("trunks[%d].port", len(file.Trunks)+i), "%q is already declared in the config file", tr.Port)
			}
		}
	}
	for i, r := range api.ACLs {
		for _, f := range file.ACLs {
			if f.Name == r.Name {
				return out, fieldErr(fmt.Sprintf("acls[%d].name", len(file.ACLs)+i), "%q is already declared in the config file", r.Name)
			}
		}
	}
	return out, nil
}
