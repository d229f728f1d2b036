package flow

import (
	"bytes"

	"github.com/loomsdn/loom/openflow"
)

// MatchFromOXMs turns the match a switch reports back into a Match, in
// whatever order its fields come and whether a maskable field comes exact
// or masked. A field Loom does not build, or one no builder call could
// have produced (a non-contiguous IP mask, a masked MAC, a UDP port under
// ip_proto=6), is an error: such a flow cannot be one Loom declared.
func MatchFromOXMs(oxms []openflow.OXM) (Match, error) {
	var d matchDecoder
	for _, o := range oxms {
		if err := d.add(o); err != nil {
			return d.m, err
		}
	}
	return d.m, d.check()
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

// ActionFromWire turns an action a switch reports back into an Action, to
// show installed flows in Loom's text form. ok is false for an action Loom
// does not build, including one that decodes but would not encode back to
// the same bytes (an output with another max_len, say).
func ActionFromWire(w openflow.Action) (a Action, ok bool) {
	switch {
	case w.Raw != nil:
		if w.Type != actionExperimenter {
			return Action{}, false
		}
		a, ok = ctFromWire(w.Raw)
	case w.Type == openflow.ActionOutput:
		a, ok = Output(w.Port), true
	case w.Type == openflow.ActionPushVlan:
		a, ok = PushVLAN(), true
	case w.Type == openflow.ActionPopVlan:
		a, ok = PopVLAN(), true
	case w.Type == openflow.ActionSetField && w.Field.Class == openflow.OXMClassBasic &&
		w.Field.Field == openflow.OXMVlanVID && len(w.Field.Value) == 2:
		a, ok = SetVLAN(uint16(w.Field.Value[0])<<8|uint16(w.Field.Value[1])), true
	case w.Type == openflow.ActionSetField:
		a, ok = tunnelFromWire(w.Field)
	}
	if !ok || !bytes.Equal(actionBytes(a.Wire()), actionBytes(w)) {
		return Action{}, false
	}
	return a, true
}

// actionBytes is the encoded form of one action (inside an apply-actions
// instruction, the only encoder package openflow exports).
func actionBytes(a openflow.Action) []byte {
	return openflow.AppendInstructions(nil, []openflow.Instruction{openflow.ApplyActions(a)})
}
