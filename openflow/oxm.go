package openflow

import (
	"encoding/binary"
	"fmt"
)

// OXM is one match field TLV. Value and Mask are the raw big-endian bytes;
// package flow gives them meaning.
type OXM struct {
	Class        uint16
	Field        uint8
	Experimenter uint32 // only for OXMClassExperimenter
	Value        []byte
	Mask         []byte // nil when the field is exact
}

// matchTypeOXM is ofp_match.type for OXM matches, the only kind in 1.3.
const matchTypeOXM = 1

// splitMatch checks the ofp_match that starts b and returns its OXM bytes and
// the padded length the match occupies. It never trusts a declared length
// that does not fit inside b.
func splitMatch(b []byte) (oxms []byte, padded int, err error) {
	if len(b) < 4 {
		return nil, 0, fmt.Errorf("match: %d bytes, need at least 4", len(b))
	}
	typ := binary.BigEndian.Uint16(b[0:2])
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if typ != matchTypeOXM {
		return nil, 0, fmt.Errorf("match: type %d, only OXM (1) is valid in OpenFlow 1.3", typ)
	}
	if n < 4 {
		return nil, 0, fmt.Errorf("match: length %d below its 4-byte header", n)
	}
	padded = (n + 7) / 8 * 8
	if padded > len(b) {
		return nil, 0, fmt.Errorf("match: length %d (padded %d) exceeds the %d bytes left", n, padded, len(b))
	}
	return b[4:n], padded, nil
}

// ParseOXMs walks a run of OXM TLVs, checking every length before use.
// The returned values alias b.
func ParseOXMs(b []byte) ([]OXM, error) {
	var out []OXM
	err := walkOXMs(b, func(o OXM) { out = append(out, o) })
	return out, err
}

// walkOXMs calls fn for each TLV of b. It is the single place that decides
// whether an OXM run is well formed.
func walkOXMs(b []byte, fn func(OXM)) error {
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return fmt.Errorf("oxm at offset %d: %d bytes left, header needs 4", off, len(b)-off)
		}
		class := binary.BigEndian.Uint16(b[off:])
		fieldMask := b[off+2]
		n := int(b[off+3])
		body := off + 4
		if n == 0 {
			return fmt.Errorf("oxm at offset %d (class 0x%04x field %d): zero payload length", off, class, fieldMask>>1)
		}
		if body+n > len(b) {
			return fmt.Errorf("oxm at offset %d: payload length %d exceeds the %d bytes left", off, n, len(b)-body)
		}
		o := OXM{Class: class, Field: fieldMask >> 1}
		payload := b[body : body+n]
		if class == OXMClassExperimenter {
			if n < 4 {
				return fmt.Errorf("oxm at offset %d: experimenter field with %d-byte payload", off, n)
			}
			o.Experimenter = binary.BigEndian.Uint32(payload)
			payload = payload[4:]
		}
		if fieldMask&1 != 0 {
			if len(payload) == 0 || len(payload)%2 != 0 {
				return fmt.Errorf("oxm at offset %d: masked field with odd payload length %d", off, len(payload))
			}
			half := len(payload) / 2
			o.Value, o.Mask = payload[:half], payload[half:]
		} else {
			o.Value = payload
		}
		fn(o)
		off = body + n
	}
	return nil
}

// inPortOf returns the in_port field of an OXM run, or PortAny.
func inPortOf(oxms []OXM) uint32 {
	for _, o := range oxms {
		if o.Class == OXMClassBasic && o.Field == OXMInPort && len(o.Value) == 4 {
			return binary.BigEndian.Uint32(o.Value)
		}
	}
	return PortAny
}

// appendOXM encodes one TLV.
func appendOXM(b []byte, o OXM) []byte {
	n := len(o.Value) + len(o.Mask)
	if o.Class == OXMClassExperimenter {
		n += 4
	}
	fm := o.Field << 1
	if o.Mask != nil {
		fm |= 1
	}
	b = binary.BigEndian.AppendUint16(b, o.Class)
	b = append(b, fm, uint8(n))
	if o.Class == OXMClassExperimenter {
		b = binary.BigEndian.AppendUint32(b, o.Experimenter)
	}
	b = append(b, o.Value...)
	return append(b, o.Mask...)
}

// appendMatch encodes an ofp_match holding oxms, padded to 8 bytes.
func appendMatch(b []byte, oxms []OXM) []byte {
	start := len(b)
	b = append(b, 0, matchTypeOXM, 0, 0)
	for _, o := range oxms {
		b = appendOXM(b, o)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return pad8(b, start)
}

// pad8 zero-pads b so that the bytes since start are a multiple of 8.
func pad8(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// BasicOXM builds an exact OpenFlow-basic field from its value bytes.
func BasicOXM(field uint8, value []byte) OXM {
	return OXM{Class: OXMClassBasic, Field: field, Value: value}
}

// InPortOXM matches the ingress port.
func InPortOXM(port uint32) OXM {
	return BasicOXM(OXMInPort, binary.BigEndian.AppendUint32(nil, port))
}
