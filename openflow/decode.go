package openflow

import (
	"encoding/binary"
	"errors"
	"fmt"

	ofp "github.com/contiv/libOpenflow/openflow13"
)

// ErrMalformed is wrapped by every decode error: the peer sent bytes that
// are not valid OpenFlow 1.3. The connection that sent them is closed.
var ErrMalformed = errors.New("malformed OpenFlow message")

// ErrUnsupported is wrapped when a message is well framed but of a type a
// switch has no business sending to a controller.
var ErrUnsupported = errors.New("unsupported OpenFlow message")

// Decode decodes one whole message as returned by Framer.Next. The result
// never aliases b: the caller's buffer may be reused at once. Decode never
// panics; a panic inside a library decoder becomes an ErrMalformed error.
func Decode(b []byte) (msg Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("%w: decoder panic on %d-byte message: %v", ErrMalformed, len(b), r)
		}
	}()
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(b))
	}
	h := ParseHeader(b)
	if int(h.Length) != len(b) {
		return nil, fmt.Errorf("%w: header length %d but %d bytes given", ErrMalformed, h.Length, len(b))
	}
	if h.Version != Version && h.Type != TypeHello {
		return nil, fmt.Errorf("%w: version 0x%02x, this connection speaks OpenFlow 1.3 (0x04)", ErrMalformed, h.Version)
	}
	d, ok := decoders[h.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %s from a switch", ErrUnsupported, TypeName(h.Type))
	}
	// One copy per message; every slice in the result aliases it.
	own := append([]byte(nil), b...)
	msg, err = d(h, own)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, TypeName(h.Type), err)
	}
	return msg, nil
}

type decoder func(h Header, b []byte) (Message, error)

var decoders = map[uint8]decoder{
	TypeHello:          decodeHello,
	TypeError:          decodeError,
	TypeEchoRequest:    decodeEcho,
	TypeEchoReply:      decodeEcho,
	TypeExperimenter:   decodeExperimenter,
	TypeFeaturesReply:  decodeFeatures,
	TypeGetConfigReply: decodeSwitchConfig,
	TypePacketIn:       decodePacketIn,
	TypeFlowRemoved:    decodeFlowRemoved,
	TypePortStatus:     decodePortStatus,
	TypeMultipartReply: decodeMultipartReply,
	TypeBarrierReply:   func(h Header, _ []byte) (Message, error) { return &BarrierReply{h}, nil },
	TypeRoleReply:      decodeRoleReply,
	TypeGetAsyncReply:  decodeAsync,
}

func needLen(b []byte, n int, what string) error {
	if len(b) < n {
		return fmt.Errorf("%d bytes, %s needs %d", len(b), what, n)
	}
	return nil
}

func exactLen(b []byte, n int, what string) error {
	if len(b) != n {
		return fmt.Errorf("%d bytes, %s is exactly %d", len(b), what, n)
	}
	return nil
}

// decodeHello reads the version bitmap. libOpenflow's Hello decoder spins
// forever on an element type it does not know, so elements are walked here.
func decodeHello(h Header, b []byte) (Message, error) {
	m := &Hello{Header: h}
	for off := HeaderLen; off+4 <= len(b); {
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		if n < 4 || off+n > len(b) {
			return nil, fmt.Errorf("hello element at offset %d: length %d does not fit", off, n)
		}
		if typ == 1 { // OFPHET_VERSIONBITMAP
			m.HasBitmap = true
			for p := off + 4; p+4 <= off+n; p += 4 {
				m.Bitmap = append(m.Bitmap, binary.BigEndian.Uint32(b[p:]))
			}
		}
		off += (n + 7) / 8 * 8 // elements are padded to 8 bytes
	}
	return m, nil
}

func decodeError(h Header, b []byte) (Message, error) {
	if err := needLen(b, 12, "error"); err != nil {
		return nil, err
	}
	e := ofp.NewErrorMsg()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return &ErrorMsg{Header: h, ErrType: e.Type, Code: e.Code, Data: b[12:]}, nil
}

func decodeEcho(h Header, b []byte) (Message, error) {
	return &Echo{Header: h, Data: b[HeaderLen:]}, nil
}

func decodeExperimenter(h Header, b []byte) (Message, error) {
	if err := needLen(b, 16, "experimenter"); err != nil {
		return nil, err
	}
	return &Experimenter{Header: h, Experimenter: binary.BigEndian.Uint32(b[8:]),
		ExpType: binary.BigEndian.Uint32(b[12:]), Data: b[16:]}, nil
}

func decodeFeatures(h Header, b []byte) (Message, error) {
	// The 1.3 reply has no port list; the library would try to read ports
	// out of any trailing bytes, so it only sees the fixed 32.
	if err := exactLen(b, 32, "features reply"); err != nil {
		return nil, err
	}
	f := ofp.NewFeaturesReply()
	if err := f.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return &FeaturesReply{Header: h, DPID: binary.BigEndian.Uint64(f.DPID), Buffers: f.Buffers,
		Tables: f.NumTables, AuxiliaryID: f.AuxilaryId, Capabilities: f.Capabilities}, nil
}

func decodeSwitchConfig(h Header, b []byte) (Message, error) {
	if err := exactLen(b, 12, "get-config reply"); err != nil {
		return nil, err
	}
	return &SwitchConfig{Header: h, Flags: binary.BigEndian.Uint16(b[8:]), MissSendLen: binary.BigEndian.Uint16(b[10:])}, nil
}

const portLen = 64

// decodePort reads one ofp_port through libOpenflow's PhyPort.
func decodePort(b []byte) (Port, error) {
	if err := needLen(b, portLen, "port"); err != nil {
		return Port{}, err
	}
	p := ofp.NewPhyPort()
	if err := p.UnmarshalBinary(b[:portLen]); err != nil {
		return Port{}, err
	}
	return Port{No: p.PortNo, HWAddr: p.HWAddr, Name: cString(p.Name), Config: p.Config, State: p.State,
		Curr: p.Curr, Advertised: p.Advertised, Supported: p.Supported, Peer: p.Peer,
		CurrSpeed: p.CurrSpeed, MaxSpeed: p.MaxSpeed}, nil
}

func decodePortStatus(h Header, b []byte) (Message, error) {
	if err := exactLen(b, 16+portLen, "port status"); err != nil {
		return nil, err
	}
	p, err := decodePort(b[16:])
	if err != nil {
		return nil, err
	}
	return &PortStatus{Header: h, Reason: b[8], Port: p}, nil
}

// decodePacketIn reads the fixed part and the match here rather than
// through libOpenflow, whose PacketIn decoder also parses the frame into
// protocol structs: costly on the hot path and fragile on odd frames.
func decodePacketIn(h Header, b []byte) (Message, error) {
	if err := needLen(b, 24+8+2, "packet-in"); err != nil {
		return nil, err
	}
	oxmBytes, padded, err := splitMatch(b[24:])
	if err != nil {
		return nil, err
	}
	oxms, err := ParseOXMs(oxmBytes)
	if err != nil {
		return nil, err
	}
	dataOff := 24 + padded + 2
	if dataOff > len(b) {
		return nil, fmt.Errorf("match ends at %d, beyond the %d-byte message", dataOff, len(b))
	}
	return &PacketIn{Header: h, BufferID: binary.BigEndian.Uint32(b[8:]), TotalLen: binary.BigEndian.Uint16(b[12:]),
		Reason: b[14], TableID: b[15], Cookie: binary.BigEndian.Uint64(b[16:]),
		InPort: inPortOf(oxms), Match: oxms, Data: b[dataOff:]}, nil
}

func decodeFlowRemoved(h Header, b []byte) (Message, error) {
	if err := needLen(b, 48+8, "flow removed"); err != nil {
		return nil, err
	}
	oxmBytes, padded, err := splitMatch(b[48:])
	if err != nil {
		return nil, err
	}
	if 48+padded != len(b) {
		return nil, fmt.Errorf("match ends at %d, message is %d bytes", 48+padded, len(b))
	}
	oxms, err := ParseOXMs(oxmBytes)
	if err != nil {
		return nil, err
	}
	return &FlowRemoved{Header: h, Cookie: binary.BigEndian.Uint64(b[8:]), Priority: binary.BigEndian.Uint16(b[16:]),
		Reason: b[18], TableID: b[19], DurationSec: binary.BigEndian.Uint32(b[20:]),
		DurationNSec: binary.BigEndian.Uint32(b[24:]), IdleTimeout: binary.BigEndian.Uint16(b[28:]),
		HardTimeout: binary.BigEndian.Uint16(b[30:]), Packets: binary.BigEndian.Uint64(b[32:]),
		Bytes: binary.BigEndian.Uint64(b[40:]), Match: oxms}, nil
}

// decodeMultipartReply checks the part's header and, for the body types
// Loom reads, the body itself, so a malformed body fails on the connection
// that sent it rather than later in whoever asked.
func decodeMultipartReply(h Header, b []byte) (Message, error) {
	if err := needLen(b, 16, "multipart reply"); err != nil {
		return nil, err
	}
	m := &MultipartReply{Header: h, MPType: binary.BigEndian.Uint16(b[8:]), Flags: binary.BigEndian.Uint16(b[10:]), Body: b[16:]}
	var err error
	switch m.MPType {
	case MultipartPortDesc:
		_, err = ParsePortDescs(m.Body)
	case MultipartFlow:
		err = ValidateFlowStats(m.Body) // checks every entry, builds none
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func decodeRoleReply(h Header, b []byte) (Message, error) {
	if err := exactLen(b, 24, "role reply"); err != nil {
		return nil, err
	}
	return &RoleReply{Header: h, Role: binary.BigEndian.Uint32(b[8:]), GenerationID: binary.BigEndian.Uint64(b[16:])}, nil
}

func decodeAsync(h Header, b []byte) (Message, error) {
	if err := exactLen(b, 32, "async config"); err != nil {
		return nil, err
	}
	a := &AsyncConfig{Header: h}
	for i := 0; i < 2; i++ {
		a.PacketInMask[i] = binary.BigEndian.Uint32(b[8+4*i:])
		a.PortStatusMask[i] = binary.BigEndian.Uint32(b[16+4*i:])
		a.FlowRemovedMask[i] = binary.BigEndian.Uint32(b[24+4*i:])
	}
	return a, nil
}

// ParsePortDescs decodes a PORT_DESC multipart body.
func ParsePortDescs(body []byte) ([]Port, error) {
	if len(body)%portLen != 0 {
		return nil, fmt.Errorf("port-desc body of %d bytes is not a whole number of %d-byte ports", len(body), portLen)
	}
	ports := make([]Port, 0, len(body)/portLen)
	for off := 0; off < len(body); off += portLen {
		p, err := decodePort(body[off:])
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// FlowStats is one entry of a FLOW multipart reply.
type FlowStats struct {
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
	Match        []OXM
	Instructions []Instruction
	// RawInstructions are the instructions as the switch encoded them.
	RawInstructions []byte
}

// ParseFlowStats decodes a FLOW multipart body into one value per flow.
// For a large body prefer ReadFlowStats, which walks it in place.
func ParseFlowStats(body []byte) ([]FlowStats, error) {
	var out []FlowStats
	r := ReadFlowStats(body)
	for r.Next() {
		fs, err := r.Entry().FlowStats()
		if err != nil {
			return nil, fmt.Errorf("flow stats at offset %d: %w", r.Offset(), err)
		}
		out = append(out, fs)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseFlowMod decodes a FLOW_MOD (a switch never sends one; the in-memory
// switch of the tests and the load generator read them).
func ParseFlowMod(b []byte) (FlowMod, error) {
	if len(b) < 56 || b[1] != TypeFlowMod {
		return FlowMod{}, fmt.Errorf("%w: not a flow-mod of at least 56 bytes", ErrMalformed)
	}
	fm := FlowMod{Cookie: binary.BigEndian.Uint64(b[8:]), CookieMask: binary.BigEndian.Uint64(b[16:]),
		TableID: b[24], Command: b[25], IdleTimeout: binary.BigEndian.Uint16(b[26:]),
		HardTimeout: binary.BigEndian.Uint16(b[28:]), Priority: binary.BigEndian.Uint16(b[30:]),
		BufferID: binary.BigEndian.Uint32(b[32:]), OutPort: binary.BigEndian.Uint32(b[36:]),
		OutGroup: binary.BigEndian.Uint32(b[40:]), Flags: binary.BigEndian.Uint16(b[44:])}
	oxmBytes, padded, err := splitMatch(b[48:])
	if err != nil {
		return fm, fmt.Errorf("%w: flow-mod: %v", ErrMalformed, err)
	}
	if fm.Match, err = ParseOXMs(oxmBytes); err != nil {
		return fm, fmt.Errorf("%w: flow-mod: %v", ErrMalformed, err)
	}
	if fm.Instructions, err = ParseInstructions(b[48+padded:]); err != nil {
		return fm, fmt.Errorf("%w: flow-mod: %v", ErrMalformed, err)
	}
	return fm, nil
}

// AppendFlowStats appends one flow-stats entry (the in-memory switch's
// reply to a FLOW multipart request).
func AppendFlowStats(b []byte, fs FlowStats) []byte {
	start := len(b)
	b = append(b, 0, 0, fs.TableID, 0)
	b = binary.BigEndian.AppendUint32(b, fs.DurationSec)
	b = binary.BigEndian.AppendUint32(b, fs.DurationNSec)
	b = binary.BigEndian.AppendUint16(b, fs.Priority)
	b = binary.BigEndian.AppendUint16(b, fs.IdleTimeout)
	b = binary.BigEndian.AppendUint16(b, fs.HardTimeout)
	b = binary.BigEndian.AppendUint16(b, fs.Flags)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, fs.Cookie)
	b = binary.BigEndian.AppendUint64(b, fs.Packets)
	b = binary.BigEndian.AppendUint64(b, fs.Bytes)
	b = appendMatch(b, fs.Match)
	if fs.RawInstructions != nil {
		b = append(b, fs.RawInstructions...)
	} else {
		b = appendInstructions(b, fs.Instructions)
	}
	binary.BigEndian.PutUint16(b[start:], uint16(len(b)-start))
	return b
}
