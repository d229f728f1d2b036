package flow

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// Connection tracking state bits (ct_state), numbered as OVS numbers them.
// They are only set once a packet has been through CT (CTTrk).
const (
	CTNew uint32 = 0x01 // starts a new connection
	CTEst uint32 = 0x02 // belongs to an established connection
	CTRel uint32 = 0x04 // related to an established connection
	CTRpl uint32 = 0x08 // goes in the reply direction
	CTInv uint32 = 0x10 // conntrack could not make sense of it
	CTTrk uint32 = 0x20 // has been through the connection tracker
)

// ctKnown is every ct_state bit OVS keeps (the six above, then snat and
// dnat). OVS drops the other bits of a mask and reports an exact ct_state
// as masked with ctKnown, so Loom keeps it the same way: otherwise a
// switch's report would never equal the match Loom sent.
const ctKnown uint32 = 0xff

// ctFlags are OVS's names for the bits, in the order OVS prints them.
var ctFlags = []string{"new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat"}

// CTState matches the connection tracking state: the bits set in mask
// must equal those in state (e.g. CTState(CTTrk|CTEst, CTTrk|CTEst) is
// +trk+est, CTState(0, CTTrk) is -trk). A mask of 0xffffffff is exact
// and equals 0xff, all the bits OVS has; a zero mask matches everything
// and sets nothing.
func (m Match) CTState(state, mask uint32) Match {
	mask &= ctKnown
	m.ctState, m.ctMask = uint8(state&mask), uint8(mask)
	m.set = setIf(m.set, fCTState, mask != 0)
	return m
}

// ctStateOXM always carries a mask: a Match's ct_state mask is at most
// ctKnown, never the all-ones of an exact field, as OVS reports it.
func ctStateOXM(state, mask uint8) openflow.OXM {
	return openflow.OXM{Class: oxmClassNXM1, Field: nxmCTState,
		Value: binary.BigEndian.AppendUint32(nil, uint32(state)), Mask: binary.BigEndian.AppendUint32(nil, uint32(mask))}
}

// ctStateText is OVS's spelling: "est|trk" (or "0") when every bit is
// matched, "+est-new+trk"-style flags, in bit order, otherwise.
func ctStateText(state, mask uint8) string {
	var b strings.Builder
	if uint32(mask) == ctKnown {
		if state == 0 {
			return "0"
		}
		for i, name := range ctFlags {
			if state&(1<<i) != 0 {
				if b.Len() > 0 {
					b.WriteByte('|')
				}
				b.WriteString(name)
			}
		}
		return b.String()
	}
	for i, name := range ctFlags {
		switch bit := uint8(1) << i; {
		case mask&bit == 0:
		case state&bit != 0:
			b.WriteString("+" + name)
		default:
			b.WriteString("-" + name)
		}
	}
	return b.String()
}

// parseCTState reads what ctStateText writes, and the numeric form
// ovs-ofctl also takes ("0x22/0x3f").
func parseCTState(s string) (state, mask uint32, err error) {
	switch {
	case s == "":
		return 0, 0, fmt.Errorf("empty")
	case s[0] == '+' || s[0] == '-':
		return parseCTFlags(s)
	case s[0] >= '0' && s[0] <= '9':
		v, m, ok := strings.Cut(s, "/")
		state, err = parseUint32(v)
		mask = 0xffffffff
		if err == nil && ok {
			mask, err = parseUint32(m)
		}
		if err == nil && mask&ctKnown == 0 {
			err = fmt.Errorf("%q matches no ct_state bit", s)
		}
		return state, mask, err
	}
	// Every bit matched: the flags named are set, the rest clear.
	for _, name := range strings.Split(s, "|") {
		bit, err := ctFlag(name)
		if err != nil {
			return 0, 0, err
		}
		state |= bit
	}
	return state, 0xffffffff, nil
}

// parseCTFlags reads "+trk-new+est": each flag set (+) or clear (-).
func parseCTFlags(s string) (state, mask uint32, err error) {
	for len(s) > 0 {
		sign := s[0]
		if sign != '+' && sign != '-' {
			return 0, 0, fmt.Errorf("%q: want +flag or -flag", s)
		}
		name := s[1:]
		if i := strings.IndexAny(name, "+-"); i >= 0 {
			name = name[:i]
		}
		s = s[1+len(name):]
		bit, err := ctFlag(name)
		if err != nil {
			return 0, 0, err
		}
		if mask&bit != 0 {
			return 0, 0, fmt.Errorf("flag %q given twice", name)
		}
		mask |= bit
		if sign == '+' {
			state |= bit
		}
	}
	return state, mask, nil
}

func ctFlag(name string) (uint32, error) {
	for i, n := range ctFlags {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown flag %q (want one of %s)", name, strings.Join(ctFlags, ", "))
}

// parseUint32 reads decimal, or hex with 0x.
func parseUint32(s string) (uint32, error) {
	n, err := parseNum(s, 32)
	return uint32(n), err
}

// parseNum reads an unsigned number of bits width: hex with a 0x prefix,
// decimal otherwise (never octal, whatever the leading zeros).
func parseNum(s string, bits int) (uint64, error) {
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		return strconv.ParseUint(h, 16, bits)
	}
	return strconv.ParseUint(s, 10, bits)
}
