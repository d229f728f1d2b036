package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Ethernet types rules use.
const (
	EthIPv4 uint16 = 0x0800
	EthIPv6 uint16 = 0x86dd
	EthARP  uint16 = 0x0806
)

// CompiledRule is a validated rule with its fields parsed.
type CompiledRule struct {
	Rule
	VLAN uint16
	// EthTypes the rule matches; empty: any. A protocol without addresses
	// (proto: tcp) applies to both IPv4 and IPv6.
	EthTypes []uint16
	Src, Dst netip.Prefix // invalid (zero): any
	Proto    uint8        // 0: any
	SrcPorts []PortMask   // nil: any
	DstPorts []PortMask
	ICMPType int // -1: any
	ICMPCode int
	Allow    bool
	// FromAPI says the rule came through the API (after the file's), and
	// Index is its place among the rules of its source: its flows'
	// priority follows from these alone, so a rule added to the file
	// leaves the API's rules' flows as they were.
	FromAPI bool
	Index   int
}

// PortMask is one value/mask pair of an L4 port range.
type PortMask struct{ Port, Mask uint16 }

var protocols = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132}

func asField(err error, fe **FieldError) bool { return errors.As(err, fe) }

// compileRule checks one rule; errors are FieldErrors relative to it.
func (p *Policy) compileRule(r Rule) (CompiledRule, error) {
	c := CompiledRule{Rule: r, ICMPType: -1, ICMPCode: -1}
	switch r.Action {
	case "allow":
		c.Allow = true
	case "deny":
	default:
		return c, fieldErr("action", "%q is not allow or deny", r.Action)
	}
	switch {
	case r.Network != "":
		n := p.byName[r.Network]
		if n == nil {
			return c, fieldErr("network", "%q is not a declared network", r.Network)
		}
		if r.VLAN != 0 && r.VLAN != n.VLAN {
			return c, fieldErr("vlan", "%d is not network %q's VLAN (%d)", r.VLAN, n.Name, n.VLAN)
		}
		c.VLAN = uint16(n.VLAN)
	case r.VLAN != 0:
		if r.VLAN < 1 || r.VLAN > 4094 || p.byVLAN[uint16(r.VLAN)] == nil {
			return c, fieldErr("vlan", "VLAN %d is not any network's (unknown VLAN)", r.VLAN)
		}
		c.VLAN = uint16(r.VLAN)
	default:
		return c, fieldErr("network", "required (or vlan): a rule applies to one network")
	}
	if r.InPort != "" {
		if err := validGlob(r.InPort); err != nil {
			return c, fieldErr("in_port", "%v", err)
		}
	}
	var err error
	if c.Src, err = parsePrefix(r.Src); err != nil {
		return c, fieldErr("src", "%v", err)
	}
	if c.Dst, err = parsePrefix(r.Dst); err != nil {
		return c, fieldErr("dst", "%v", err)
	}
	if c.Src.IsValid() && c.Dst.IsValid() && c.Src.Addr().Is4() != c.Dst.Addr().Is4() {
		return c, fieldErr("dst", "%s and src %s are not the same IP version", r.Dst, r.Src)
	}
	if r.Proto != "" {
		n, ok := protocols[strings.ToLower(r.Proto)]
		if !ok {
			v, err := strconv.ParseUint(r.Proto, 0, 8)
			if err != nil || v == 0 {
				return c, fieldErr("proto", "%q is not tcp, udp, sctp, icmp, icmpv6 or a protocol number 1-255", r.Proto)
			}
			n = uint8(v)
		}
		c.Proto = n
	}
	if c.EthTypes, err = c.ethTypes(); err != nil {
		return c, err
	}
	if c.SrcPorts, err = c.l4Ports("src_port", r.SrcPort); err != nil {
		return c, err
	}
	if c.DstPorts, err = c.l4Ports("dst_port", r.DstPort); err != nil {
		return c, err
	}
	if r.ICMPType != nil || r.ICMPCode != nil {
		if c.Proto != 1 && c.Proto != 58 {
			return c, fieldErr("icmp_type", "needs proto icmp or icmpv6")
		}
		if r.ICMPType != nil {
			if *r.ICMPType < 0 || *r.ICMPType > 255 {
				return c, fieldErr("icmp_type", "%d is outside 0-255", *r.ICMPType)
			}
			c.ICMPType = *r.ICMPType
		}
		if r.ICMPCode != nil {
			if *r.ICMPCode < 0 || *r.ICMPCode > 255 {
				return c, fieldErr("icmp_code", "%d is outside 0-255", *r.ICMPCode)
			}
			c.ICMPCode = *r.ICMPCode
		}
	}
	return c, nil
}

// ethTypes derives the Ethernet types from eth_type, the addresses and the
// protocol, refusing combinations that can never match.
func (c *CompiledRule) ethTypes() ([]uint16, error) {
	var family uint16
	switch {
	case c.Src.IsValid():
		family = familyOf(c.Src)
	case c.Dst.IsValid():
		family = familyOf(c.Dst)
	case c.Proto == 1:
		family = EthIPv4
	case c.Proto == 58:
		family = EthIPv6
	}
	if c.EthType == "" {
		switch {
		case family != 0:
			return []uint16{family}, nil
		case c.Proto != 0:
			return []uint16{EthIPv4, EthIPv6}, nil
		}
		return nil, nil
	}
	var t uint16
	switch strings.ToLower(c.EthType) {
	case "ipv4", "ip":
		t = EthIPv4
	case "ipv6":
		t = EthIPv6
	case "arp":
		t = EthARP
	default:
		v, err := strconv.ParseUint(c.EthType, 0, 16)
		if err != nil || v < 0x600 {
			return nil, fieldErr("eth_type", "%q is not ipv4, ipv6, arp or an Ethernet type like 0x0800", c.EthType)
		}
		t = uint16(v)
	}
	if family != 0 && t != family {
		return nil, fieldErr("eth_type", "%s contradicts the rule's addresses or protocol (%#04x)", c.EthType, family)
	}
	if c.Proto != 0 && t != EthIPv4 && t != EthIPv6 {
		return nil, fieldErr("proto", "needs eth_type ipv4 or ipv6, not %s", c.EthType)
	}
	return []uint16{t}, nil
}

func familyOf(p netip.Prefix) uint16 {
	if p.Addr().Is4() {
		return EthIPv4
	}
	return EthIPv6
}

func parsePrefix(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix like 10.0.0.0/24 or 2001:db8::/64", s)
	}
	return p.Masked(), nil
}

// l4Ports parses "80" or "1000-2000" into value/mask pairs.
func (c *CompiledRule) l4Ports(field, s string) ([]PortMask, error) {
	if s == "" {
		return nil, nil
	}
	if c.Proto != 6 && c.Proto != 17 && c.Proto != 132 {
		return nil, fieldErr(field, "needs proto tcp, udp or sctp")
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, errA := strconv.ParseUint(strings.TrimSpace(lo), 10, 32)
	b, errB := strconv.ParseUint(strings.TrimSpace(hi), 10, 32)
	switch {
	case errA != nil || errB != nil:
		return nil, fieldErr(field, "%q is not a port (8080) or range (1000-2000)", s)
	case a < 1 || a > 65535 || b < 1 || b > 65535:
		return nil, fieldErr(field, "%q: ports are 1-65535", s)
	case a > b:
		return nil, fieldErr(field, "%q: the range's start is above its end", s)
	}
	return RangeMasks(uint16(a), uint16(b)), nil
}

// RangeMasks covers lo..hi with the fewest value/mask pairs (at most 30
// for 16 bits), since OpenFlow matches ports by bitmask, not by range.
func RangeMasks(lo, hi uint16) []PortMask {
	var out []PortMask
	for l := uint32(lo); l <= uint32(hi); {
		size := uint32(1)
		for l%(size*2) == 0 && l+size*2-1 <= uint32(hi) && size < 1<<16 {
			size *= 2
		}
		out = append(out, PortMask{Port: uint16(l), Mask: uint16(0xffff &^ (size - 1))})
		l += size
	}
	return out
}
