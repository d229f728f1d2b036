package flow

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// MAC is an Ethernet address as a comparable value.
type MAC [6]byte

// ParseMAC parses "aa:bb:cc:dd:ee:ff".
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("invalid MAC %q", s)
	}
	return MAC(hw), nil
}

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// Multicast reports the group bit (also set for broadcast).
func (m MAC) Multicast() bool { return m[0]&1 != 0 }

// Fields is a set of match fields.
type Fields uint16

// The match fields Loom builds.
const (
	FieldInPort Fields = 1 << iota
	FieldEthSrc
	FieldEthDst
	FieldEthType
	FieldVLAN
	FieldIPProto
	FieldIPSrc
	FieldIPDst
	FieldL4Src
	FieldL4Dst
	FieldICMPType
	FieldICMPCode
	FieldCTState
	FieldTunID
	FieldTunSrc
)

const (
	fInPort   = FieldInPort
	fEthSrc   = FieldEthSrc
	fEthDst   = FieldEthDst
	fEthType  = FieldEthType
	fVLAN     = FieldVLAN
	fIPProto  = FieldIPProto
	fIPSrc    = FieldIPSrc
	fIPDst    = FieldIPDst
	fL4Src    = FieldL4Src
	fL4Dst    = FieldL4Dst
	fICMPType = FieldICMPType
	fICMPCode = FieldICMPCode
	fCTState  = FieldCTState
	fTunID    = FieldTunID
	fTunSrc   = FieldTunSrc
)

// vlanPresent is OFPVID_PRESENT: set in vlan_vid for tagged frames.
const vlanPresent = 0x1000

var fieldNames = []string{"in_port", "dl_src", "dl_dst", "dl_type", "vlan",
	"nw_proto", "ip_src", "ip_dst", "tp_src", "tp_dst", "icmp_type", "icmp_code", "ct_state",
	"tun_id", "tun_src"}

// String lists the fields by their ovs-ofctl names.
func (fs Fields) String() string {
	var names []string
	for i, n := range fieldNames {
		if fs&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// Match is a set of field matches: exact, except IP prefixes, L4 ports and
// ct_state, which may be masked. It is comparable, so (table, priority,
// match) can key a map: the identity of a flow in OpenFlow. Build it with
// the chaining methods: flow.Match{}.InPort(1).EthDst(m). The builders
// keep it canonical (unset fields zero, value bits outside a mask
// cleared), so equal matches compare equal.
type Match struct {
	// Ordered to pack without padding and holding no pointers: matches
	// key maps of 100k+ flows per switch, which the GC never has to scan.
	inPort  uint32
	set     Fields
	ethType uint16
	vlanVID uint16 // OXM vlan_vid: vid|0x1000 tagged, 0 untagged
	ethSrc  MAC
	ethDst  MAC

	l4Src, l4SrcMask   uint16
	l4Dst, l4DstMask   uint16
	ipProto            uint8
	icmpType, icmpCode uint8
	ctState, ctMask    uint8 // the bits OVS keeps: see ctKnown
	ipSrc, ipDst       ipNet
	tunID              [8]byte // big-endian: a uint64 would 8-byte align every Key
	tunSrc             [4]byte
}

// Fields returns the fields m matches on.
func (m Match) Fields() Fields { return m.set }

// InPort matches the ingress port.
func (m Match) InPort(p uint32) Match { m.set |= fInPort; m.inPort = p; return m }

// EthSrc matches the Ethernet source.
func (m Match) EthSrc(a MAC) Match { m.set |= fEthSrc; m.ethSrc = a; return m }

// EthDst matches the Ethernet destination.
func (m Match) EthDst(a MAC) Match { m.set |= fEthDst; m.ethDst = a; return m }

// InPortValue is the in_port the match requires, if any.
func (m Match) InPortValue() (uint32, bool) { return m.inPort, m.set&fInPort != 0 }

// EthSrcValue is the eth_src the match requires, if any.
func (m Match) EthSrcValue() (MAC, bool) { return m.ethSrc, m.set&fEthSrc != 0 }

// VLANValue is the VLAN id the match requires, if it requires a tagged
// frame of one.
func (m Match) VLANValue() (uint16, bool) {
	return m.vlanVID & 0xfff, m.set&fVLAN != 0 && m.vlanVID&vlanPresent != 0
}

// EthDstValue is the eth_dst the match requires, if any.
func (m Match) EthDstValue() (MAC, bool) { return m.ethDst, m.set&fEthDst != 0 }

// EthType matches the Ethernet type.
func (m Match) EthType(t uint16) Match { m.set |= fEthType; m.ethType = t; return m }

// VLAN matches frames tagged with VLAN vid (1..4094).
func (m Match) VLAN(vid uint16) Match { m.set |= fVLAN; m.vlanVID = vid&0xfff | vlanPresent; return m }

// Untagged matches frames without a VLAN tag.
func (m Match) Untagged() Match { m.set |= fVLAN; m.vlanVID = 0; return m }

// String renders the match in ovs-ofctl syntax, fields in a fixed order.
func (m Match) String() string {
	var parts []string
	if m.set&fInPort != 0 {
		parts = append(parts, fmt.Sprintf("in_port=%d", m.inPort))
	}
	if m.set&fEthSrc != 0 {
		parts = append(parts, "dl_src="+m.ethSrc.String())
	}
	if m.set&fEthDst != 0 {
		parts = append(parts, "dl_dst="+m.ethDst.String())
	}
	if m.set&fEthType != 0 {
		parts = append(parts, fmt.Sprintf("dl_type=0x%04x", m.ethType))
	}
	if m.set&fVLAN != 0 {
		if m.vlanVID == 0 {
			parts = append(parts, "vlan_tci=0x0000/0x1fff") // ovs-ofctl's spelling of "no tag"
		} else {
			parts = append(parts, fmt.Sprintf("dl_vlan=%d", m.vlanVID&0xfff))
		}
	}
	parts = m.appendTunnelText(m.appendL3Text(parts))
	return strings.Join(parts, ",")
}

// OXMs encodes the match for the wire.
func (m Match) OXMs() []openflow.OXM {
	var out []openflow.OXM
	if m.set&fInPort != 0 {
		out = append(out, openflow.InPortOXM(m.inPort))
	}
	if m.set&fEthDst != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMEthDst, append([]byte(nil), m.ethDst[:]...)))
	}
	if m.set&fEthSrc != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMEthSrc, append([]byte(nil), m.ethSrc[:]...)))
	}
	if m.set&fEthType != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMEthType, binary.BigEndian.AppendUint16(nil, m.ethType)))
	}
	if m.set&fVLAN != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMVlanVID, binary.BigEndian.AppendUint16(nil, m.vlanVID)))
	}
	// After eth_type: OVS checks a field's prerequisites as it reads it.
	return m.appendTunnelOXMs(m.appendL3OXMs(out))
}

func (m Match) less(o Match) bool {
	switch {
	case m.set != o.set:
		return m.set < o.set
	case m.inPort != o.inPort:
		return m.inPort < o.inPort
	case m.ethSrc != o.ethSrc:
		return string(m.ethSrc[:]) < string(o.ethSrc[:])
	case m.ethDst != o.ethDst:
		return string(m.ethDst[:]) < string(o.ethDst[:])
	case m.ethType != o.ethType:
		return m.ethType < o.ethType
	case m.vlanVID != o.vlanVID:
		return m.vlanVID < o.vlanVID
	}
	return m.lessL3(o)
}
