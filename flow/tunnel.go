package flow

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// The tunnel metadata of VXLAN and GRE: what a packet received on a
// flow-based tunnel port (options:remote_ip=flow, options:key=flow) came
// with, and what a packet output to one leaves with. A packet from any
// other port has tun_id 0 and tun_src 0.0.0.0. The fields have no
// prerequisites, but OVS accepts them only on a bridge with a tunnel port.

// TunID matches the tunnel key (tun_id): the VXLAN VNI or GRE key, exact.
func (m Match) TunID(id uint64) Match {
	m.set |= fTunID
	binary.BigEndian.PutUint64(m.tunID[:], id)
	return m
}

// TunSrc matches the outer IPv4 source of a tunnelled packet (tun_src),
// exact. An IPv4-mapped IPv6 address counts as its IPv4 address; any other
// IPv6 address, or an invalid one, cannot be matched (IPv6 tunnels are
// another field) and, like an invalid prefix to IPSrc, sets nothing.
func (m Match) TunSrc(ip netip.Addr) Match {
	ip = ip.Unmap()
	m.tunSrc = [4]byte{}
	if ip.Is4() {
		m.tunSrc = ip.As4()
	}
	m.set = setIf(m.set, fTunSrc, ip.Is4())
	return m
}

// SetTunID sets the tunnel key a packet output to a tunnel port is sent
// with (set_field:...->tun_id).
func SetTunID(id uint64) Action { return Action{kind: actSetTunID, tun: id} }

// SetTunDst sets the outer IPv4 destination a packet output to a
// flow-based tunnel port is sent to (set_field:...->tun_dst). An
// IPv4-mapped IPv6 address counts as its IPv4 address; any other address
// sets 0.0.0.0, a destination no tunnel sends to.
func SetTunDst(ip netip.Addr) Action {
	var a [4]byte
	if ip = ip.Unmap(); ip.Is4() {
		a = ip.As4()
	}
	return Action{kind: actSetTunDst, tun: uint64(binary.BigEndian.Uint32(a[:]))}
}

// hexText is OVS's spelling of a hexadecimal field (C's %#x): 0x1392, but
// 0 for zero.
func hexText(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}

func (m Match) tunIDValue() uint64 { return binary.BigEndian.Uint64(m.tunID[:]) }

// appendTunnelText adds tun_id and tun_src in ovs-ofctl syntax. (OVS
// prints them first, before in_port; Loom keeps its fixed order, and
// Parse takes either.)
func (m Match) appendTunnelText(parts []string) []string {
	if m.set&fTunID != 0 {
		parts = append(parts, "tun_id="+hexText(m.tunIDValue()))
	}
	if m.set&fTunSrc != 0 {
		parts = append(parts, "tun_src="+netip.AddrFrom4(m.tunSrc).String())
	}
	return parts
}

// appendTunnelOXMs encodes tun_id as OpenFlow's tunnel_id and tun_src as
// Nicira's NXM_NX_TUN_IPV4_SRC, both exact: as OVS reports them.
func (m Match) appendTunnelOXMs(out []openflow.OXM) []openflow.OXM {
	if m.set&fTunID != 0 {
		out = append(out, openflow.BasicOXM(openflow.OXMTunnelID, append([]byte(nil), m.tunID[:]...)))
	}
	if m.set&fTunSrc != 0 {
		out = append(out, openflow.OXM{Class: oxmClassNXM1, Field: nxmTunIPv4Src, Value: append([]byte(nil), m.tunSrc[:]...)})
	}
	return out
}

// lessTunnel continues Match.less over the tunnel fields.
func (m Match) lessTunnel(o Match) bool {
	if m.tunID != o.tunID {
		return string(m.tunID[:]) < string(o.tunID[:]) // big-endian: numeric order
	}
	return string(m.tunSrc[:]) < string(o.tunSrc[:])
}

// exactValue returns o's value when o is exact, or masked with all ones
// (which OVS may report for an exact field); n is the field's width.
func exactValue(o openflow.OXM, name string, n int) ([]byte, error) {
	if len(o.Value) != n || (o.Mask != nil && len(o.Mask) != n) {
		return nil, fmt.Errorf("%s: %d-byte value, %d-byte mask, want %d bytes", name, len(o.Value), len(o.Mask), n)
	}
	for _, b := range o.Mask {
		if b != 0xff {
			return nil, fmt.Errorf("%s: mask %x; Loom builds it exact only", name, o.Mask)
		}
	}
	return o.Value, nil
}

// tunID reads tunnel_id (OpenFlow basic field 38).
func (d *matchDecoder) tunID(o openflow.OXM) (Fields, error) {
	v, err := exactValue(o, "tun_id", 8)
	if err != nil {
		return 0, err
	}
	d.m = d.m.TunID(binary.BigEndian.Uint64(v))
	return fTunID, nil
}

// tunSrc reads NXM_NX_TUN_IPV4_SRC.
func (d *matchDecoder) tunSrc(o openflow.OXM) (Fields, error) {
	v, err := exactValue(o, "tun_src", 4)
	if err != nil {
		return 0, err
	}
	d.m = d.m.TunSrc(netip.AddrFrom4([4]byte(v)))
	return fTunSrc, nil
}

// tunnelString is the text of a tunnel set-field action, as OVS prints it.
func (a Action) tunnelString() string {
	if a.kind == actSetTunID {
		return "set_field:" + hexText(a.tun) + "->tun_id"
	}
	return "set_field:" + a.tunDst().String() + "->tun_dst"
}

func (a Action) tunDst() netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(a.tun))
	return netip.AddrFrom4(b)
}

// tunnelWire encodes a tunnel set-field as OVS reports it back: one exact
// OXM (tunnel_id in the basic class, tun_dst as NXM_NX_TUN_IPV4_DST),
// zero-padded to 16 bytes.
func (a Action) tunnelWire() openflow.Action {
	f := openflow.BasicOXM(openflow.OXMTunnelID, binary.BigEndian.AppendUint64(nil, a.tun))
	if a.kind == actSetTunDst {
		f = openflow.OXM{Class: oxmClassNXM1, Field: nxmTunIPv4Dst, Value: binary.BigEndian.AppendUint32(nil, uint32(a.tun))}
	}
	return openflow.Action{Type: openflow.ActionSetField, Field: f}
}

// tunnelFromWire decodes a tunnel set-field; ok is false for any other
// field and for a masked one (ActionFromWire's byte comparison would
// refuse it anyway).
func tunnelFromWire(f openflow.OXM) (Action, bool) {
	switch {
	case f.Mask != nil:
		return Action{}, false
	case f.Class == openflow.OXMClassBasic && f.Field == openflow.OXMTunnelID && len(f.Value) == 8:
		return SetTunID(binary.BigEndian.Uint64(f.Value)), true
	case f.Class == oxmClassNXM1 && f.Field == nxmTunIPv4Dst && len(f.Value) == 4:
		return SetTunDst(netip.AddrFrom4([4]byte(f.Value))), true
	}
	return Action{}, false
}

// parseTunnelField reads tun_id and tun_src in the text form
// appendTunnelText writes: exact values only.
func (f *Flow) parseTunnelField(name, value string) error {
	switch name {
	case "tun_id":
		id, err := parseTunID(value)
		f.Match = f.Match.TunID(id)
		return err
	case "tun_src":
		ip, err := parseTunIPv4(value)
		if err != nil {
			return err
		}
		f.Match = f.Match.TunSrc(ip)
		return nil
	}
	return fmt.Errorf("unknown field")
}

// parseTunID reads a 64-bit key, hex with 0x (as OVS prints it) or
// decimal.
func parseTunID(s string) (uint64, error) {
	if strings.Contains(s, "/") {
		return 0, fmt.Errorf("%q: Loom matches and sets tun_id exactly; leave out the mask", s)
	}
	n, err := parseNum(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number 0..0xffffffffffffffff", s)
	}
	return n, nil
}

// parseTunIPv4 reads an exact IPv4 address: tun_src and tun_dst are IPv4
// fields (IPv6 tunnels use others).
func parseTunIPv4(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		return netip.Addr{}, fmt.Errorf("%q: Loom matches and sets tunnel addresses exactly; leave out the mask", s)
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 address", s)
	}
	return ip, nil
}

// parseTunnelSetField reads "set_field:0x1392->tun_id" and
// "set_field:192.168.50.3->tun_dst".
func parseTunnelSetField(a string) (Action, error) {
	value, field, _ := strings.Cut(strings.TrimPrefix(a, "set_field:"), "->")
	if field == "tun_id" {
		id, err := parseTunID(value)
		if err != nil {
			return Action{}, fmt.Errorf("%q: tun_id: %w", a, err)
		}
		return SetTunID(id), nil
	}
	ip, err := parseTunIPv4(value)
	if err != nil {
		return Action{}, fmt.Errorf("%q: tun_dst: %w", a, err)
	}
	return SetTunDst(ip), nil
}
