package flow

// OXM field numbers of the IP, L4 and ICMP matches (OpenFlow 1.3 §7.2.3.7)
// that package openflow does not name.
const (
	oxmTCPSrc     uint8 = 13
	oxmTCPDst     uint8 = 14
	oxmUDPSrc     uint8 = 15
	oxmUDPDst     uint8 = 16
	oxmSCTPSrc    uint8 = 17
	oxmSCTPDst    uint8 = 18
	oxmICMPv4Type uint8 = 19
	oxmICMPv4Code uint8 = 20
	oxmIPv6Src    uint8 = 26
	oxmIPv6Dst    uint8 = 27
	oxmICMPv6Type uint8 = 29
	oxmICMPv6Code uint8 = 30
)

// ct_state and the tunnel addresses are Nicira extension fields. OVS puts
// them in the NXM_1 class (0x0001), which OpenFlow 1.3 switches from OVS
// accept beside the basic class; the TLV carries no experimenter id.
// (tun_id is OpenFlow's own tunnel_id, openflow.OXMTunnelID.)
const (
	oxmClassNXM1  uint16 = 0x0001
	nxmTunIPv4Src uint8  = 31 // NXM_NX_TUN_IPV4_SRC, tun_src
	nxmTunIPv4Dst uint8  = 32 // NXM_NX_TUN_IPV4_DST, tun_dst
	nxmCTState    uint8  = 105
)

// The values that decide which OXM a field goes in: one Match field (an
// L4 port, an ICMP type) is a different OXM per protocol.
const (
	ethTypeIPv6 uint16 = 0x86dd
	ipProtoTCP  uint8  = 6
	ipProtoUDP  uint8  = 17
	ipProtoSCTP uint8  = 132
)

// l4OXMs returns the OXM fields an L4 port match uses under ip_proto p:
// TCP's when p names no other transport, since without ip_proto=6, 17 or
// 132 the switch refuses the flow anyway (bad prerequisite).
func l4OXMs(p uint8) (src, dst uint8) {
	switch p {
	case ipProtoUDP:
		return oxmUDPSrc, oxmUDPDst
	case ipProtoSCTP:
		return oxmSCTPSrc, oxmSCTPDst
	}
	return oxmTCPSrc, oxmTCPDst
}

// icmpOXMs returns the OXM fields an ICMP match uses: ICMPv6's for an IPv6
// flow, ICMPv4's otherwise.
func icmpOXMs(ipv6 bool) (typ, code uint8) {
	if ipv6 {
		return oxmICMPv6Type, oxmICMPv6Code
	}
	return oxmICMPv4Type, oxmICMPv4Code
}
