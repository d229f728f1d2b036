package ofsim

import (
	"bytes"
	"encoding/binary"

	"github.com/loomsdn/loom/openflow"
)

// Packet is what the lookup matches on.
type Packet struct {
	InPort  uint32
	EthSrc  [6]byte
	EthDst  [6]byte
	EthType uint16
}

func (p Packet) value(field uint8) []byte {
	switch field {
	case openflow.OXMInPort:
		return binary.BigEndian.AppendUint32(nil, p.InPort)
	case openflow.OXMEthSrc:
		return p.EthSrc[:]
	case openflow.OXMEthDst:
		return p.EthDst[:]
	case openflow.OXMEthType:
		return binary.BigEndian.AppendUint16(nil, p.EthType)
	}
	return nil
}

func (e *Entry) matches(p Packet) bool {
	for _, o := range e.Match {
		v := p.value(o.Field)
		if o.Class != openflow.OXMClassBasic || v == nil {
			return false
		}
		if o.Mask == nil {
			if !bytes.Equal(v, o.Value) {
				return false
			}
			continue
		}
		for i := range v {
			if i >= len(o.Value) || v[i]&o.Mask[i] != o.Value[i]&o.Mask[i] {
				return false
			}
		}
	}
	return true
}

// Lookup runs p through the pipeline from table 0 and returns the output
// ports of the apply-actions it meets (openflow.PortController,
// openflow.PortFlood and friends included). No match anywhere is a drop.
func (s *Switch) Lookup(p Packet) []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint32
	table := uint8(0)
	for hops := 0; hops < 256; hops++ {
		var best *Entry
		for _, e := range s.entries {
			if e.Table == table && e.matches(p) && (best == nil || e.Priority > best.Priority) {
				best = e
			}
		}
		if best == nil {
			return out
		}
		best.Packets++
		next := -1
		for _, in := range best.Instructions {
			switch in.Type {
			case openflow.InstrApplyActions:
				for _, a := range in.Actions {
					if a.Type == openflow.ActionOutput {
						out = append(out, a.Port)
					}
				}
			case openflow.InstrGotoTable:
				next = int(in.TableID)
			}
		}
		if next < 0 {
			return out
		}
		table = uint8(next)
	}
	return out
}
