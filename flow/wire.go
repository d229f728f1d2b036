package flow

import (
	"encoding/binary"
	"fmt"

	"github.com/loomsdn/loom/openflow"
)

// MatchFromOXMs turns the match a switch reports back into a Match. A
// field Loom does not model, or a masked one, is an error: such a flow
// cannot be one Loom declared.
func MatchFromOXMs(oxms []openflow.OXM) (Match, error) {
	var m Match
	for _, o := range oxms {
		if o.Class != openflow.OXMClassBasic || o.Mask != nil {
			return m, fmt.Errorf("field class 0x%04x/%d (masked=%v) is not one Loom builds", o.Class, o.Field, o.Mask != nil)
		}
		switch {
		case o.Field == openflow.OXMInPort && len(o.Value) == 4:
			m = m.InPort(binary.BigEndian.Uint32(o.Value))
		case o.Field == openflow.OXMEthSrc && len(o.Value) == 6:
			m = m.EthSrc(MAC(o.Value))
		case o.Field == openflow.OXMEthDst && len(o.Value) == 6:
			m = m.EthDst(MAC(o.Value))
		case o.Field == openflow.OXMEthType && len(o.Value) == 2:
			m = m.EthType(binary.BigEndian.Uint16(o.Value))
		case o.Field == openflow.OXMVlanVID && len(o.Value) == 2:
			v := binary.BigEndian.Uint16(o.Value)
			if v&vlanPresent == 0 {
				m = m.Untagged()
			} else {
				m = m.VLAN(v)
			}
		default:
			return m, fmt.Errorf("field %d (%d bytes) is not one Loom builds", o.Field, len(o.Value))
		}
	}
	return m, nil
}

// Instructions returns f's instructions as they go on the wire.
func (f Flow) Instructions() []openflow.Instruction {
	var ins []openflow.Instruction
	if len(f.Actions) > 0 {
		ins = append(ins, openflow.ApplyActions(WireActions(f.Actions)...))
	}
	if f.Goto {
		ins = append(ins, openflow.GotoTable(f.GotoTable))
	}
	return ins
}

// InstructionBytes is the encoded form of f's instructions: the canonical
// form of its behaviour, compared byte for byte with what a switch
// reports, so any difference Loom cannot name is still a difference.
func (f Flow) InstructionBytes() []byte {
	return openflow.AppendInstructions(nil, f.Instructions())
}
