package flow

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/loomsdn/loom/openflow"
)

// The IP, L4 and ICMP matches. OpenFlow only accepts them with their
// prerequisites, which callers add themselves: EthType(0x0800 or 0x86dd)
// for IPProto, IPSrc and IPDst; IPProto (6, 17 or 132) for L4Src and
// L4Dst; IPProto(1 or 58) for ICMPType and ICMPCode. A switch refuses a
// flow without them (OFPBMC_BAD_PREREQ), and Loom reports that refusal
// rather than guessing what the caller meant.

// IPProto matches the IP protocol (nw_proto).
func (m Match) IPProto(p uint8) Match { m.set |= fIPProto; m.ipProto = p; return m }

// IPSrc matches source addresses in p, IPv4 or IPv6 by p's family. Host
// bits are cleared (the switch refuses them); a /0 or invalid prefix
// matches every address, so it sets nothing.
func (m Match) IPSrc(p netip.Prefix) Match {
	var ok bool
	m.ipSrc, ok = ipNetOf(p)
	m.set = setIf(m.set, fIPSrc, ok)
	return m
}

// IPDst matches destination addresses in p, like IPSrc.
func (m Match) IPDst(p netip.Prefix) Match {
	var ok bool
	m.ipDst, ok = ipNetOf(p)
	m.set = setIf(m.set, fIPDst, ok)
	return m
}

// L4Src matches the TCP, UDP or SCTP source port (by IPProto) under mask:
// 0xffff is exact, 0 matches every port and sets nothing.
func (m Match) L4Src(port, mask uint16) Match {
	m.l4Src, m.l4SrcMask = port&mask, mask
	m.set = setIf(m.set, fL4Src, mask != 0)
	return m
}

// L4Dst matches the destination port, like L4Src.
func (m Match) L4Dst(port, mask uint16) Match {
	m.l4Dst, m.l4DstMask = port&mask, mask
	m.set = setIf(m.set, fL4Dst, mask != 0)
	return m
}

// ICMPType matches the ICMP type: ICMPv6's when EthType is 0x86dd,
// ICMPv4's otherwise.
func (m Match) ICMPType(t uint8) Match { m.set |= fICMPType; m.icmpType = t; return m }

// ICMPCode matches the ICMP code, like ICMPType.
func (m Match) ICMPCode(c uint8) Match { m.set |= fICMPCode; m.icmpCode = c; return m }

// ipNet is a canonical IP prefix as a Match keeps it: netip.Prefix holds
// a pointer (its zone) and takes 32 bytes, this holds none in 18.
type ipNet struct {
	addr [16]byte // IPv4 as ::ffff:a.b.c.d
	bits uint8
	v6   bool
}

// ipNetOf clears p's host bits (the switch refuses them) and reports
// whether p narrows the match at all: a zero-length prefix is dropped, as
// OVS drops it.
func ipNetOf(p netip.Prefix) (ipNet, bool) {
	p = p.Masked()
	if !p.IsValid() || p.Bits() == 0 {
		return ipNet{}, false
	}
	return ipNet{addr: p.Addr().As16(), bits: uint8(p.Bits()), v6: p.Addr().Is6()}, true
}

func (n ipNet) prefix() netip.Prefix {
	a := netip.AddrFrom16(n.addr)
	if !n.v6 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, int(n.bits))
}

func (n ipNet) less(o ipNet) bool {
	if n.v6 != o.v6 {
		return !n.v6
	}
	if n.addr != o.addr {
		return string(n.addr[:]) < string(o.addr[:])
	}
	return n.bits < o.bits
}

// setIf sets or clears f in s: a later builder call that matches
// everything undoes an earlier one, so the last call wins as elsewhere.
func setIf(s, f Fields, on bool) Fields {
	if on {
		return s | f
	}
	return s &^ f
}

// isIPv6 reports whether m's ICMP fields are ICMPv6's.
func (m Match) isIPv6() bool { return m.set&fEthType != 0 && m.ethType == ethTypeIPv6 }

// appendL3Text adds the IP, L4, ICMP and ct_state fields in ovs-ofctl
// syntax, in a fixed order.
func (m Match) appendL3Text(parts []string) []string {
	if m.set&fIPProto != 0 {
		parts = append(parts, fmt.Sprintf("nw_proto=%d", m.ipProto))
	}
	if m.set&fIPSrc != 0 {
		parts = append(parts, prefixText("src", m.ipSrc.prefix()))
	}
	if m.set&fIPDst != 0 {
		parts = append(parts, prefixText("dst", m.ipDst.prefix()))
	}
	if m.set&fL4Src != 0 {
		parts = append(parts, "tp_src="+portText(m.l4Src, m.l4SrcMask))
	}
	if m.set&fL4Dst != 0 {
		parts = append(parts, "tp_dst="+portText(m.l4Dst, m.l4DstMask))
	}
	icmp := "icmp"
	if m.isIPv6() {
		icmp = "icmpv6"
	}
	if m.set&fICMPType != 0 {
		parts = append(parts, fmt.Sprintf("%s_type=%d", icmp, m.icmpType))
	}
	if m.set&fICMPCode != 0 {
		parts = append(parts, fmt.Sprintf("%s_code=%d", icmp, m.icmpCode))
	}
	if m.set&fCTState != 0 {
		parts = append(parts, "ct_state="+ctStateText(m.ctState, m.ctMask))
	}
	return parts
}

// prefixText is OVS's spelling: nw_ for IPv4, ipv6_ for IPv6, and no
// length on a single address.
func prefixText(dir string, p netip.Prefix) string {
	name := "nw_" + dir
	if p.Addr().Is6() {
		name = "ipv6_" + dir
	}
	if p.IsSingleIP() {
		return name + "=" + p.Addr().String()
	}
	return name + "=" + p.String()
}

// portText is OVS's spelling: decimal when exact, hex value/mask otherwise.
func portText(port, mask uint16) string {
	if mask == 0xffff {
		return fmt.Sprint(port)
	}
	return fmt.Sprintf("0x%x/0x%x", port, mask)
}

// appendL3OXMs encodes the IP, L4, ICMP and ct_state fields, each after
// its prerequisites. Exact fields carry no mask: OVS reports a full mask
// as exact, and the reconciler compares what it reports.
func (m Match) appendL3OXMs(out []openflow.OXM) []openflow.OXM {
	if m.set&fIPProto != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMIPProto, []byte{m.ipProto}))
	}
	if m.set&fIPSrc != 0 {
		out = append(out, prefixOXM(openflow.OXMIPv4Src, oxmIPv6Src, m.ipSrc.prefix()))
	}
	if m.set&fIPDst != 0 {
		out = append(out, prefixOXM(openflow.OXMIPv4Dst, oxmIPv6Dst, m.ipDst.prefix()))
	}
	src, dst := l4OXMs(m.ipProto)
	if m.set&fL4Src != 0 {
		out = append(out, portOXM(src, m.l4Src, m.l4SrcMask))
	}
	if m.set&fL4Dst != 0 {
		out = append(out, portOXM(dst, m.l4Dst, m.l4DstMask))
	}
	typ, code := icmpOXMs(m.isIPv6())
	if m.set&fICMPType != 0 {
		out = append(out, openflow.BasicOXM(typ, []byte{m.icmpType}))
	}
	if m.set&fICMPCode != 0 {
		out = append(out, openflow.BasicOXM(code, []byte{m.icmpCode}))
	}
	if m.set&fCTState != 0 {
		out = append(out, ctStateOXM(m.ctState, m.ctMask))
	}
	return out
}

func prefixOXM(v4, v6 uint8, p netip.Prefix) openflow.OXM {
	field := v4
	if p.Addr().Is6() {
		field = v6
	}
	o := openflow.BasicOXM(field, p.Addr().AsSlice())
	if !p.IsSingleIP() {
		o.Mask = net.CIDRMask(p.Bits(), p.Addr().BitLen())
	}
	return o
}

func portOXM(field uint8, port, mask uint16) openflow.OXM {
	o := openflow.BasicOXM(field, binary.BigEndian.AppendUint16(nil, port))
	if mask != 0xffff {
		o.Mask = binary.BigEndian.AppendUint16(nil, mask)
	}
	return o
}

// lessL3 continues Match.less over the IP, L4, ICMP and ct_state fields,
// then the tunnel fields.
func (m Match) lessL3(o Match) bool {
	switch {
	case m.ipProto != o.ipProto:
		return m.ipProto < o.ipProto
	case m.ipSrc != o.ipSrc:
		return m.ipSrc.less(o.ipSrc)
	case m.ipDst != o.ipDst:
		return m.ipDst.less(o.ipDst)
	case m.l4Src != o.l4Src:
		return m.l4Src < o.l4Src
	case m.l4SrcMask != o.l4SrcMask:
		return m.l4SrcMask < o.l4SrcMask
	case m.l4Dst != o.l4Dst:
		return m.l4Dst < o.l4Dst
	case m.l4DstMask != o.l4DstMask:
		return m.l4DstMask < o.l4DstMask
	case m.icmpType != o.icmpType:
		return m.icmpType < o.icmpType
	case m.icmpCode != o.icmpCode:
		return m.icmpCode < o.icmpCode
	case m.ctState != o.ctState:
		return m.ctState < o.ctState
	case m.ctMask != o.ctMask:
		return m.ctMask < o.ctMask
	}
	return m.lessTunnel(o)
}
