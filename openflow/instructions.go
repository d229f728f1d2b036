package openflow

import (
	"encoding/binary"
	"fmt"
)

// Instruction is one ofp_instruction. Only the fields of its Type are used.
type Instruction struct {
	Type         uint16
	TableID      uint8    // goto-table
	Metadata     uint64   // write-metadata
	MetadataMask uint64   // write-metadata
	Meter        uint32   // meter
	Actions      []Action // apply-actions, write-actions
	Raw          []byte   // experimenter instructions, kept verbatim
}

// Action is one ofp_action. Only the fields of its Type are used; actions
// Loom does not model (including Nicira extensions) keep their bytes in Raw
// so they round-trip and compare exactly.
type Action struct {
	Type      uint16
	Port      uint32 // output
	MaxLen    uint16 // output
	Group     uint32 // group
	EtherType uint16 // push-vlan/mpls/pbb
	Field     OXM    // set-field
	Raw       []byte // whole action, for types without a decoder here
}

// Output sends to a port; to the controller it asks for the whole packet.
func Output(port uint32) Action {
	a := Action{Type: ActionOutput, Port: port}
	if port == PortController {
		a.MaxLen = ControllerMax
	}
	return a
}

// ApplyActions wraps actions in an apply-actions instruction.
func ApplyActions(actions ...Action) Instruction {
	return Instruction{Type: InstrApplyActions, Actions: actions}
}

// GotoTable continues the pipeline at table id.
func GotoTable(id uint8) Instruction { return Instruction{Type: InstrGotoTable, TableID: id} }

// ParseInstructions walks a run of instructions, checking each length.
func ParseInstructions(b []byte) ([]Instruction, error) {
	var out []Instruction
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("instruction at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 8 || n%8 != 0 {
			return nil, fmt.Errorf("instruction at offset %d (type %d): length %d, must be a positive multiple of 8", off, typ, n)
		}
		if off+n > len(b) {
			return nil, fmt.Errorf("instruction at offset %d (type %d): length %d exceeds the %d bytes left", off, typ, n, len(b)-off)
		}
		body := b[off : off+n]
		in := Instruction{Type: typ}
		switch typ {
		case InstrGotoTable:
			in.TableID = body[4]
		case InstrWriteMetadata:
			if n != 24 {
				return nil, fmt.Errorf("write-metadata instruction at offset %d: length %d, want 24", off, n)
			}
			in.Metadata = binary.BigEndian.Uint64(body[8:])
			in.MetadataMask = binary.BigEndian.Uint64(body[16:])
		case InstrWriteActions, InstrApplyActions:
			acts, err := ParseActions(body[8:])
			if err != nil {
				return nil, fmt.Errorf("instruction at offset %d: %w", off, err)
			}
			in.Actions = acts
		case InstrClearActions:
		case InstrMeter:
			in.Meter = binary.BigEndian.Uint32(body[4:])
		default:
			in.Raw = body
		}
		out = append(out, in)
		off += n
	}
	return out, nil
}

// ParseActions walks a run of actions, checking each length.
func ParseActions(b []byte) ([]Action, error) {
	var out []Action
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("action at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 8 || n%8 != 0 {
			return nil, fmt.Errorf("action at offset %d (type %d): length %d, must be a positive multiple of 8", off, typ, n)
		}
		if off+n > len(b) {
			return nil, fmt.Errorf("action at offset %d (type %d): length %d exceeds the %d bytes left", off, typ, n, len(b)-off)
		}
		body := b[off : off+n]
		a := Action{Type: typ}
		switch typ {
		case ActionOutput:
			if n != 16 {
				return nil, fmt.Errorf("output action at offset %d: length %d, want 16", off, n)
			}
			a.Port = binary.BigEndian.Uint32(body[4:])
			a.MaxLen = binary.BigEndian.Uint16(body[8:])
		case ActionGroup:
			a.Group = binary.BigEndian.Uint32(body[4:])
		case ActionPushVlan, 19, 26: // push vlan, mpls, pbb
			a.EtherType = binary.BigEndian.Uint16(body[4:])
		case ActionPopVlan:
		case ActionSetField:
			oxms, err := ParseOXMs(trimPadding(body[4:]))
			if err != nil || len(oxms) != 1 {
				return nil, fmt.Errorf("set-field action at offset %d: want one field: %v", off, err)
			}
			a.Field = oxms[0]
		default:
			a.Raw = body
		}
		out = append(out, a)
		off += n
	}
	return out, nil
}

// trimPadding cuts the zero padding after the single OXM of a set-field.
func trimPadding(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	n := 4 + int(b[3])
	if n > len(b) {
		return b
	}
	return b[:n]
}

// AppendInstructions appends the encoded instructions to b.
func AppendInstructions(b []byte, ins []Instruction) []byte { return appendInstructions(b, ins) }

func appendInstructions(b []byte, ins []Instruction) []byte {
	for _, in := range ins {
		start := len(b)
		b = binary.BigEndian.AppendUint16(b, in.Type)
		b = append(b, 0, 0)
		switch in.Type {
		case InstrGotoTable:
			b = append(b, in.TableID, 0, 0, 0)
		case InstrWriteMetadata:
			b = append(b, 0, 0, 0, 0)
			b = binary.BigEndian.AppendUint64(b, in.Metadata)
			b = binary.BigEndian.AppendUint64(b, in.MetadataMask)
		case InstrWriteActions, InstrApplyActions:
			b = append(b, 0, 0, 0, 0)
			b = appendActions(b, in.Actions)
		case InstrClearActions:
			b = append(b, 0, 0, 0, 0)
		case InstrMeter:
			b = binary.BigEndian.AppendUint32(b, in.Meter)
		default:
			b = append(b[:start], in.Raw...)
			continue
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	return b
}

func appendActions(b []byte, acts []Action) []byte {
	for _, a := range acts {
		if a.Raw != nil {
			b = append(b, a.Raw...)
			continue
		}
		start := len(b)
		b = binary.BigEndian.AppendUint16(b, a.Type)
		b = append(b, 0, 0)
		switch a.Type {
		case ActionOutput:
			b = binary.BigEndian.AppendUint32(b, a.Port)
			b = binary.BigEndian.AppendUint16(b, a.MaxLen)
			b = append(b, 0, 0, 0, 0, 0, 0)
		case ActionGroup:
			b = binary.BigEndian.AppendUint32(b, a.Group)
		case ActionPushVlan, 19, 26:
			b = binary.BigEndian.AppendUint16(b, a.EtherType)
			b = append(b, 0, 0)
		case ActionSetField:
			b = appendOXM(b, a.Field)
			b = pad8(b, start)
		default:
			b = append(b, 0, 0, 0, 0)
		}
		binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	}
	return b
}
