package flow

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/loomsdn/loom/openflow"
)

// matchDecoder builds a Match from OXMs one at a time. It remembers which
// OXM each L4 and ICMP field came in, because the Match keeps only the
// port or type: check then makes sure the Match would encode to the same
// fields, or two switch flows could map to one key.
type matchDecoder struct {
	m    Match
	seen Fields
	// The OXM field each L4 and ICMP field came in, 0 if absent. Fields,
	// not a map: the reconciler decodes every flow of every switch.
	viaL4Src, viaL4Dst, viaICMPType, viaICMPCode uint8
}

func (d *matchDecoder) add(o openflow.OXM) error {
	f, err := d.decode(o)
	if err != nil {
		return err
	}
	if d.seen&f != 0 {
		return fmt.Errorf("%s appears twice", f)
	}
	d.seen |= f
	return nil
}

// decode applies one OXM and returns the field it set.
func (d *matchDecoder) decode(o openflow.OXM) (Fields, error) {
	if o.Class == oxmClassNXM1 && o.Field == nxmCTState {
		state, mask, err := ctStateFromOXM(o)
		d.m = d.m.CTState(state, mask)
		return fCTState, err
	}
	if o.Class == oxmClassNXM1 && o.Field == nxmTunIPv4Src {
		return d.tunSrc(o)
	}
	if o.Class != openflow.OXMClassBasic {
		return 0, fmt.Errorf("field class 0x%04x/%d is not one Loom builds", o.Class, o.Field)
	}
	switch o.Field {
	case openflow.OXMIPv4Src, openflow.OXMIPv4Dst, oxmIPv6Src, oxmIPv6Dst:
		return d.prefix(o)
	case oxmTCPSrc, oxmUDPSrc, oxmSCTPSrc, oxmTCPDst, oxmUDPDst, oxmSCTPDst:
		return d.port(o)
	case openflow.OXMTunnelID:
		return d.tunID(o)
	}
	if o.Mask != nil {
		return 0, fmt.Errorf("field %d is masked; Loom builds it exact only", o.Field)
	}
	v := o.Value
	switch {
	case o.Field == openflow.OXMInPort && len(v) == 4:
		d.m = d.m.InPort(binary.BigEndian.Uint32(v))
		return fInPort, nil
	case o.Field == openflow.OXMEthSrc && len(v) == 6:
		d.m = d.m.EthSrc(MAC(v))
		return fEthSrc, nil
	case o.Field == openflow.OXMEthDst && len(v) == 6:
		d.m = d.m.EthDst(MAC(v))
		return fEthDst, nil
	case o.Field == openflow.OXMEthType && len(v) == 2:
		d.m = d.m.EthType(binary.BigEndian.Uint16(v))
		return fEthType, nil
	case o.Field == openflow.OXMVlanVID && len(v) == 2:
		if vid := binary.BigEndian.Uint16(v); vid&vlanPresent == 0 {
			d.m = d.m.Untagged()
		} else {
			d.m = d.m.VLAN(vid)
		}
		return fVLAN, nil
	case o.Field == openflow.OXMIPProto && len(v) == 1:
		d.m = d.m.IPProto(v[0])
		return fIPProto, nil
	case (o.Field == oxmICMPv4Type || o.Field == oxmICMPv6Type) && len(v) == 1:
		d.m, d.viaICMPType = d.m.ICMPType(v[0]), o.Field
		return fICMPType, nil
	case (o.Field == oxmICMPv4Code || o.Field == oxmICMPv6Code) && len(v) == 1:
		d.m, d.viaICMPCode = d.m.ICMPCode(v[0]), o.Field
		return fICMPCode, nil
	}
	return 0, fmt.Errorf("field %d (%d bytes) is not one Loom builds", o.Field, len(v))
}

// prefix reads an IPv4 or IPv6 address, exact or under a contiguous mask.
func (d *matchDecoder) prefix(o openflow.OXM) (Fields, error) {
	n := 4
	if o.Field == oxmIPv6Src || o.Field == oxmIPv6Dst {
		n = 16
	}
	if len(o.Value) != n || (o.Mask != nil && len(o.Mask) != n) {
		return 0, fmt.Errorf("field %d: %d-byte value, %d-byte mask, want %d bytes", o.Field, len(o.Value), len(o.Mask), n)
	}
	bits := 8 * n
	if o.Mask != nil {
		ones, size := net.IPMask(o.Mask).Size()
		if size == 0 {
			return 0, fmt.Errorf("field %d: mask %x is not a prefix; Loom builds CIDR prefixes only", o.Field, o.Mask)
		}
		bits = ones
	}
	addr, _ := netip.AddrFromSlice(o.Value)
	p := netip.PrefixFrom(addr, bits)
	if p.Masked() != p {
		return 0, fmt.Errorf("field %d: address %s has bits outside its /%d mask", o.Field, addr, bits)
	}
	if o.Field == openflow.OXMIPv4Src || o.Field == oxmIPv6Src {
		d.m = d.m.IPSrc(p)
		return fIPSrc, nil
	}
	d.m = d.m.IPDst(p)
	return fIPDst, nil
}

// port reads a TCP, UDP or SCTP port, exact or masked.
func (d *matchDecoder) port(o openflow.OXM) (Fields, error) {
	if len(o.Value) != 2 || (o.Mask != nil && len(o.Mask) != 2) {
		return 0, fmt.Errorf("field %d: %d-byte value, %d-byte mask, want 2 bytes", o.Field, len(o.Value), len(o.Mask))
	}
	port, mask := binary.BigEndian.Uint16(o.Value), uint16(0xffff)
	if o.Mask != nil {
		mask = binary.BigEndian.Uint16(o.Mask)
	}
	if port&^mask != 0 {
		return 0, fmt.Errorf("field %d: port 0x%x has bits outside its mask 0x%x", o.Field, port, mask)
	}
	switch o.Field {
	case oxmTCPSrc, oxmUDPSrc, oxmSCTPSrc:
		d.m, d.viaL4Src = d.m.L4Src(port, mask), o.Field
		return fL4Src, nil
	}
	d.m, d.viaL4Dst = d.m.L4Dst(port, mask), o.Field
	return fL4Dst, nil
}

func ctStateFromOXM(o openflow.OXM) (state, mask uint32, err error) {
	if len(o.Value) != 4 || (o.Mask != nil && len(o.Mask) != 4) {
		return 0, 0, fmt.Errorf("ct_state: %d-byte value, %d-byte mask, want 4 bytes", len(o.Value), len(o.Mask))
	}
	state, mask = binary.BigEndian.Uint32(o.Value), 0xffffffff
	if o.Mask != nil {
		mask = binary.BigEndian.Uint32(o.Mask)
	}
	if state&^mask != 0 {
		return 0, 0, fmt.Errorf("ct_state: 0x%x has bits outside its mask 0x%x", state, mask)
	}
	return state, mask, nil
}

// check makes sure the L4 and ICMP fields came in the OXMs the Match
// encodes them in (e.g. udp_dst with ip_proto=17).
func (d *matchDecoder) check() error {
	src, dst := l4OXMs(d.m.ipProto)
	typ, code := icmpOXMs(d.m.isIPv6())
	for _, c := range [...]struct {
		f         Fields
		got, want uint8
	}{{fL4Src, d.viaL4Src, src}, {fL4Dst, d.viaL4Dst, dst}, {fICMPType, d.viaICMPType, typ}, {fICMPCode, d.viaICMPCode, code}} {
		if c.got != 0 && c.got != c.want {
			return fmt.Errorf("%s came in OXM field %d, which does not go with ip_proto %d and eth_type 0x%04x",
				c.f, c.got, d.m.ipProto, d.m.ethType)
		}
	}
	return nil
}
