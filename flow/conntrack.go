package flow

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/loomsdn/loom/openflow"
)

// NoRecirc is CT's table argument for "do not recirculate".
const NoRecirc uint8 = 0xff

// CT sends the packet through the connection tracker in zone (OVS's ct
// action): with commit the connection is recorded, so later packets of it
// are +est; unless table is NoRecirc, a copy then continues at table with
// ct_state filled in. OVS accepts ct only in a flow that matches
// EthType(0x0800 or 0x86dd); callers add that match.
func CT(commit bool, zone uint16, table uint8) Action {
	return Action{kind: actCT, ct: ctArgs{commit: commit, zone: zone, table: table}}
}

// ctArgs are the arguments of a ct action Loom builds: an immediate zone,
// no NAT, no ALG, no nested actions.
type ctArgs struct {
	commit bool
	zone   uint16
	table  uint8
}

// String is OVS's spelling: ct(commit,table=2,zone=10), a zero zone and
// NoRecirc left out.
func (c ctArgs) String() string {
	var args []string
	if c.commit {
		args = append(args, "commit")
	}
	if c.table != NoRecirc {
		args = append(args, fmt.Sprintf("table=%d", c.table))
	}
	if c.zone != 0 {
		args = append(args, fmt.Sprintf("zone=%d", c.zone))
	}
	return "ct(" + strings.Join(args, ",") + ")"
}

// Nicira's struct nx_action_conntrack, the wire form of ct.
const (
	actionExperimenter uint16 = 0xffff // OFPAT_EXPERIMENTER
	nxVendorID         uint32 = 0x00002320
	nxastCT            uint16 = 35
	nxCTCommit         uint16 = 1 // NX_CT_F_COMMIT
	nxCTLen                   = 24
)

// wire encodes c byte for byte as OVS encodes it when it reports the flow
// back, since the reconciler compares instruction bytes:
//
//	type 0xffff, len 24, vendor 0x2320, subtype 35, flags, zone_src 0
//	(the zone is immediate), zone, recirc_table, 3 pad, alg 0
func (c ctArgs) wire() openflow.Action {
	b := make([]byte, 0, nxCTLen)
	b = binary.BigEndian.AppendUint16(b, actionExperimenter)
	b = binary.BigEndian.AppendUint16(b, nxCTLen)
	b = binary.BigEndian.AppendUint32(b, nxVendorID)
	b = binary.BigEndian.AppendUint16(b, nxastCT)
	var flags uint16
	if c.commit {
		flags = nxCTCommit
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, c.zone)
	b = append(b, c.table, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, 0)
	return openflow.Action{Type: actionExperimenter, Raw: b}
}

// ctFromWire decodes a ct action Loom could have built; ok is false for
// any other experimenter action and for ct with arguments Loom lacks.
func ctFromWire(b []byte) (Action, bool) {
	if len(b) != nxCTLen || binary.BigEndian.Uint32(b[4:]) != nxVendorID || binary.BigEndian.Uint16(b[8:]) != nxastCT {
		return Action{}, false
	}
	flags := binary.BigEndian.Uint16(b[10:])
	if flags&^nxCTCommit != 0 || binary.BigEndian.Uint32(b[12:]) != 0 || binary.BigEndian.Uint16(b[22:]) != 0 {
		return Action{}, false
	}
	return CT(flags == nxCTCommit, binary.BigEndian.Uint16(b[16:]), b[18]), true
}

// parseCT reads "ct(commit,zone=10,table=2)", arguments in any order
// (OVS prints table before zone, people often write it after), and the
// argument-less "ct" and "ct()".
func parseCT(s string) (Action, error) {
	c := ctArgs{table: NoRecirc}
	if s == "ct" || s == "ct()" {
		return Action{kind: actCT, ct: c}, nil
	}
	args, ok := strings.CutPrefix(s, "ct(")
	if !ok || !strings.HasSuffix(args, ")") {
		return Action{}, fmt.Errorf("%q: want ct(commit,zone=N,table=N)", s)
	}
	seen := map[string]bool{}
	for _, arg := range strings.Split(strings.TrimSuffix(args, ")"), ",") {
		name, value, hasValue := strings.Cut(arg, "=")
		if seen[name] {
			return Action{}, fmt.Errorf("%q: %s given twice", s, name)
		}
		seen[name] = true
		switch name {
		case "commit":
			if hasValue {
				return Action{}, fmt.Errorf("%q: commit takes no value", s)
			}
			c.commit = true
		case "zone":
			n, err := parseNum(value, 16)
			if err != nil {
				return Action{}, fmt.Errorf("%q: zone %q is not a number 0..65535", s, value)
			}
			c.zone = uint16(n)
		case "table":
			n, err := parseNum(value, 8)
			if err != nil || uint8(n) == NoRecirc {
				return Action{}, fmt.Errorf("%q: table %q is not a number 0..254", s, value)
			}
			c.table = uint8(n)
		default:
			return Action{}, fmt.Errorf("%q: ct argument %q is not one Loom builds (commit, zone=N, table=N)", s, arg)
		}
	}
	return Action{kind: actCT, ct: c}, nil
}
