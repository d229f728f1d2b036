package flow

import (
	"fmt"
	"net/netip"
	"strings"
)

// parseL3Field reads the IP, L4, ICMP and ct_state fields in the text form
// Match.String writes (OVS's spelling).
func (f *Flow) parseL3Field(name, value string) error {
	m := &f.Match
	switch name {
	case "nw_proto":
		n, err := parseNum(value, 8)
		*m = m.IPProto(uint8(n))
		return err
	case "nw_src", "nw_dst", "ipv6_src", "ipv6_dst":
		p, err := parsePrefix(value, strings.HasPrefix(name, "ipv6_"))
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, "_src") {
			*m = m.IPSrc(p)
		} else {
			*m = m.IPDst(p)
		}
		return nil
	case "tp_src", "tp_dst":
		port, mask, err := parsePortMask(value)
		if name == "tp_src" {
			*m = m.L4Src(port, mask)
		} else {
			*m = m.L4Dst(port, mask)
		}
		return err
	case "icmp_type", "icmpv6_type", "icmp_code", "icmpv6_code":
		// OVS dumps ICMPv6 fields as icmp_type too: the family comes from
		// dl_type either way.
		n, err := parseNum(value, 8)
		if strings.HasSuffix(name, "_type") {
			*m = m.ICMPType(uint8(n))
		} else {
			*m = m.ICMPCode(uint8(n))
		}
		return err
	case "ct_state":
		state, mask, err := parseCTState(value)
		*m = m.CTState(state, mask)
		return err
	}
	return f.parseTunnelField(name, value)
}

// parsePrefix reads an address or CIDR prefix of the family the field
// name says. A zero-length prefix is refused: it would match everything
// and set nothing, which in an ACL is more likely a typo than intent.
func parsePrefix(s string, ipv6 bool) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if !strings.Contains(s, "/") {
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		if err == nil && a.Zone() != "" {
			return p, fmt.Errorf("%q: zones cannot be matched", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	family, other := "IPv4", "ipv6_"
	if ipv6 {
		family, other = "IPv6", "nw_"
	}
	switch {
	case err != nil:
		return p, err
	case p.Addr().Is6() != ipv6:
		return p, fmt.Errorf("%q is not an %s address or prefix (see %ssrc/%sdst)", s, family, other, other)
	case p.Bits() == 0:
		return p, fmt.Errorf("%q matches every address; leave the field out instead", s)
	}
	return p, nil
}

// parsePortMask reads "80" (exact) or "0x1f90/0xfff0" (masked).
func parsePortMask(s string) (port, mask uint16, err error) {
	v, m, masked := strings.Cut(s, "/")
	n, err := parseNum(v, 16)
	if err != nil {
		return 0, 0, err
	}
	if !masked {
		return uint16(n), 0xffff, nil
	}
	k, err := parseNum(m, 16)
	if err != nil {
		return 0, 0, err
	}
	if k == 0 {
		return 0, 0, fmt.Errorf("%q: mask 0 matches every port; leave the field out instead", s)
	}
	return uint16(n), uint16(k), nil
}
