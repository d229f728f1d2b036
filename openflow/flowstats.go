package openflow

import (
	"encoding/binary"
	"fmt"
)

// flowStatsFixed is the size of ofp_flow_stats before its match.
const flowStatsFixed = 48

// FlowStatsEntry is one entry of a FLOW multipart body, read in place: the
// fixed fields decoded, the match and the instructions left as slices of
// the body. Reading a body of millions of flows this way allocates nothing
// per flow; FlowStats builds the full value when one is wanted.
type FlowStatsEntry struct {
	TableID      uint8
	DurationSec  uint32
	DurationNSec uint32
	Priority     uint16
	IdleTimeout  uint16
	HardTimeout  uint16
	Flags        uint16
	Cookie       uint64
	Packets      uint64
	Bytes        uint64
	// MatchOXMs are the match's OXM TLVs, without the ofp_match header
	// and padding. They alias the body.
	MatchOXMs []byte
	// RawInstructions are the instructions as the switch encoded them.
	// They alias the body.
	RawInstructions []byte
}

// AppendMatch appends the entry's match fields to dst and returns it; the
// values alias the body. Pass dst[:0] of a reused slice to read many
// entries without allocating.
func (e *FlowStatsEntry) AppendMatch(dst []OXM) []OXM {
	// The reader checked the TLVs already; a hand-built entry that does not
	// parse gives the fields before the fault.
	_ = walkOXMs(e.MatchOXMs, func(o OXM) { dst = append(dst, o) })
	return dst
}

// FlowStats decodes the entry into a FlowStats, match and instructions
// included. Its slices alias the body.
func (e *FlowStatsEntry) FlowStats() (FlowStats, error) {
	oxms, err := ParseOXMs(e.MatchOXMs)
	if err != nil {
		return FlowStats{}, err
	}
	ins, err := ParseInstructions(e.RawInstructions)
	if err != nil {
		return FlowStats{}, err
	}
	return FlowStats{TableID: e.TableID, DurationSec: e.DurationSec, DurationNSec: e.DurationNSec, Priority: e.Priority,
		IdleTimeout: e.IdleTimeout, HardTimeout: e.HardTimeout, Flags: e.Flags, Cookie: e.Cookie, Packets: e.Packets,
		Bytes: e.Bytes, Match: oxms, Instructions: ins, RawInstructions: e.RawInstructions}, nil
}

// FlowStatsReader walks a FLOW multipart body one entry at a time:
//
//	r := openflow.ReadFlowStats(body)
//	for r.Next() {
//		e := r.Entry()
//		...
//	}
//	if err := r.Err(); err != nil { ... }
//
// Next checks everything ParseFlowStats checks before it returns an entry
// (the entry's length against the bytes left, the match's length and
// padding, every OXM, every instruction and action length), without
// allocating. It never panics on malformed input: the first bad entry
// ends the walk and Err says where and why.
type FlowStatsReader struct {
	body []byte
	off  int // where the next entry starts
	at   int // where the current entry started
	err  error
	e    FlowStatsEntry
}

// ReadFlowStats returns a reader over body, a FLOW multipart reply body
// (one part, or all of them reassembled).
func ReadFlowStats(body []byte) FlowStatsReader { return FlowStatsReader{body: body} }

// Next advances to the next entry. It returns false at the end of the body
// or at the first malformed entry (then Err is set).
func (r *FlowStatsReader) Next() bool {
	if r.err != nil || r.off >= len(r.body) {
		return false
	}
	off := r.off
	e, err := readFlowStatsEntry(r.body[off:])
	if err != nil {
		r.err = fmt.Errorf("flow stats at offset %d: %w", off, err)
		r.e = FlowStatsEntry{}
		return false
	}
	r.at = off
	r.off = off + int(binary.BigEndian.Uint16(r.body[off:]))
	r.e = e
	return true
}

// Entry is the current entry; it is overwritten by the next call to Next.
func (r *FlowStatsReader) Entry() *FlowStatsEntry { return &r.e }

// Offset is where the current entry starts in the body.
func (r *FlowStatsReader) Offset() int { return r.at }

// Err is the error that ended the walk, nil at the end of a good body.
func (r *FlowStatsReader) Err() error { return r.err }

// ValidateFlowStats checks a FLOW multipart body as ParseFlowStats would,
// without building anything.
func ValidateFlowStats(body []byte) error {
	r := ReadFlowStats(body)
	for r.Next() {
	}
	return r.Err()
}

// readFlowStatsEntry checks and reads the entry at the start of b.
func readFlowStatsEntry(b []byte) (FlowStatsEntry, error) {
	if len(b) < flowStatsFixed+8 {
		return FlowStatsEntry{}, fmt.Errorf("%d bytes left, entry needs at least %d", len(b), flowStatsFixed+8)
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < flowStatsFixed+8 || n > len(b) {
		return FlowStatsEntry{}, fmt.Errorf("length %d does not fit the %d bytes left", n, len(b))
	}
	b = b[:n]
	oxms, padded, err := splitMatch(b[flowStatsFixed:])
	if err != nil {
		return FlowStatsEntry{}, err
	}
	if err := walkOXMs(oxms, func(OXM) {}); err != nil {
		return FlowStatsEntry{}, err
	}
	ins := b[flowStatsFixed+padded:]
	if err := checkInstructions(ins); err != nil {
		return FlowStatsEntry{}, err
	}
	return FlowStatsEntry{TableID: b[2], DurationSec: binary.BigEndian.Uint32(b[4:]),
		DurationNSec: binary.BigEndian.Uint32(b[8:]), Priority: binary.BigEndian.Uint16(b[12:]),
		IdleTimeout: binary.BigEndian.Uint16(b[14:]), HardTimeout: binary.BigEndian.Uint16(b[16:]),
		Flags: binary.BigEndian.Uint16(b[18:]), Cookie: binary.BigEndian.Uint64(b[24:]),
		Packets: binary.BigEndian.Uint64(b[32:]), Bytes: binary.BigEndian.Uint64(b[40:]),
		MatchOXMs: oxms, RawInstructions: ins}, nil
}

// checkInstructions accepts exactly what ParseInstructions accepts, without
// building the instructions (FuzzParseFlowStats holds the two to that).
func checkInstructions(b []byte) error {
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("instruction at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 8 || n%8 != 0 {
			return fmt.Errorf("instruction at offset %d (type %d): length %d, must be a positive multiple of 8", off, typ, n)
		}
		if off+n > len(b) {
			return fmt.Errorf("instruction at offset %d (type %d): length %d exceeds the %d bytes left", off, typ, n, len(b)-off)
		}
		switch typ {
		case InstrWriteMetadata:
			if n != 24 {
				return fmt.Errorf("write-metadata instruction at offset %d: length %d, want 24", off, n)
			}
		case InstrWriteActions, InstrApplyActions:
			if err := checkActions(b[off+8 : off+n]); err != nil {
				return fmt.Errorf("instruction at offset %d: %w", off, err)
			}
		}
		off += n
	}
	return nil
}

// checkActions accepts exactly what ParseActions accepts.
func checkActions(b []byte) error {
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("action at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 8 || n%8 != 0 {
			return fmt.Errorf("action at offset %d (type %d): length %d, must be a positive multiple of 8", off, typ, n)
		}
		if off+n > len(b) {
			return fmt.Errorf("action at offset %d (type %d): length %d exceeds the %d bytes left", off, typ, n, len(b)-off)
		}
		switch typ {
		case ActionOutput:
			if n != 16 {
				return fmt.Errorf("output action at offset %d: length %d, want 16", off, n)
			}
		case ActionSetField:
			fields := 0
			err := walkOXMs(trimPadding(b[off+4:off+n]), func(OXM) { fields++ })
			if err != nil || fields != 1 {
				return fmt.Errorf("set-field action at offset %d: want one field: %v", off, err)
			}
		}
		off += n
	}
	return nil
}
