package openflow

import "encoding/binary"

// Outgoing is a message Loom sends. AppendBody appends everything after the
// header; the header (version, type, length, xid) is written by Encode.
type Outgoing interface {
	MsgType() uint8
	AppendBody(b []byte) []byte
}

// AppendEncoded appends the whole encoded message to b.
func AppendEncoded(b []byte, m Outgoing, xid uint32) []byte {
	start := len(b)
	b = append(b, Version, m.MsgType(), 0, 0)
	b = binary.BigEndian.AppendUint32(b, xid)
	if a, ok := m.(BundleAdd); ok {
		b = a.appendBody(b, xid)
	} else {
		b = m.AppendBody(b)
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start))
	return b
}

// Encode returns the encoded message.
func Encode(m Outgoing, xid uint32) []byte { return AppendEncoded(nil, m, xid) }

// Bare is a message with no body: FEATURES_REQUEST, BARRIER_REQUEST, ...
type Bare uint8

func (t Bare) MsgType() uint8             { return uint8(t) }
func (t Bare) AppendBody(b []byte) []byte { return b }

// Common bodyless requests.
const (
	FeaturesRequest  = Bare(TypeFeaturesRequest)
	BarrierRequest   = Bare(TypeBarrierRequest)
	GetAsyncRequest  = Bare(TypeGetAsyncRequest)
	GetConfigRequest = Bare(7)
)

// HelloMsg offers exactly OpenFlow 1.3 through a version bitmap.
type HelloMsg struct{}

func (HelloMsg) MsgType() uint8 { return TypeHello }
func (HelloMsg) AppendBody(b []byte) []byte {
	// OFPHET_VERSIONBITMAP, length 8, bitmap with only bit 4 (1.3) set.
	return append(b, 0, 1, 0, 8, 0, 0, 0, 1<<Version)
}

// EchoMsg is an echo request or reply carrying Data.
type EchoMsg struct {
	Reply bool
	Data  []byte
}

func (e EchoMsg) MsgType() uint8 {
	if e.Reply {
		return TypeEchoReply
	}
	return TypeEchoRequest
}
func (e EchoMsg) AppendBody(b []byte) []byte { return append(b, e.Data...) }

// ErrorOut is an OFPT_ERROR Loom sends (HELLO_FAILED, BAD_REQUEST).
type ErrorOut struct {
	ErrType, Code uint16
	Data          []byte // ASCII text for HELLO_FAILED; the offending bytes otherwise
}

func (ErrorOut) MsgType() uint8 { return TypeError }
func (e ErrorOut) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, e.ErrType)
	b = binary.BigEndian.AppendUint16(b, e.Code)
	data := e.Data
	if len(data) > 64 { // the spec asks for at least 64 bytes of the request; no more is useful
		data = data[:64]
	}
	return append(b, data...)
}

// SetConfig sets fragment handling and how much of a packet goes to the
// controller on a table miss.
type SetConfig struct {
	Flags       uint16
	MissSendLen uint16
}

func (SetConfig) MsgType() uint8 { return TypeSetConfig }
func (s SetConfig) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, s.Flags)
	return binary.BigEndian.AppendUint16(b, s.MissSendLen)
}

// MultipartRequest asks for a multipart reply of MPType.
type MultipartRequest struct {
	MPType uint16
	Body   []byte
}

func (MultipartRequest) MsgType() uint8 { return TypeMultipartReq }
func (m MultipartRequest) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, m.MPType)
	b = append(b, 0, 0, 0, 0, 0, 0) // flags, pad
	return append(b, m.Body...)
}

// FlowStatsRequestBody builds the body of a FLOW multipart request for
// table (TableAll for all) restricted to cookies matching cookie/mask.
func FlowStatsRequestBody(table uint8, cookie, mask uint64) []byte {
	b := []byte{table, 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, PortAny)
	b = binary.BigEndian.AppendUint32(b, GroupAny)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, mask)
	return appendMatch(b, nil)
}

// FlowMod adds, modifies or deletes flows.
type FlowMod struct {
	Cookie       uint64
	CookieMask   uint64
	TableID      uint8
	Command      uint8
	IdleTimeout  uint16
	HardTimeout  uint16
	Priority     uint16
	BufferID     uint32 // NoBuffer unless set
	OutPort      uint32 // for deletes; PortAny otherwise
	OutGroup     uint32 // for deletes; GroupAny otherwise
	Flags        uint16
	Match        []OXM
	Instructions []Instruction
}

// NewFlowMod returns a FlowMod with the "any"/"none" defaults set.
func NewFlowMod(cmd uint8) FlowMod {
	return FlowMod{Command: cmd, BufferID: NoBuffer, OutPort: PortAny, OutGroup: GroupAny}
}

func (FlowMod) MsgType() uint8 { return TypeFlowMod }
func (f FlowMod) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, f.Cookie)
	b = binary.BigEndian.AppendUint64(b, f.CookieMask)
	b = append(b, f.TableID, f.Command)
	b = binary.BigEndian.AppendUint16(b, f.IdleTimeout)
	b = binary.BigEndian.AppendUint16(b, f.HardTimeout)
	b = binary.BigEndian.AppendUint16(b, f.Priority)
	b = binary.BigEndian.AppendUint32(b, f.BufferID)
	b = binary.BigEndian.AppendUint32(b, f.OutPort)
	b = binary.BigEndian.AppendUint32(b, f.OutGroup)
	b = binary.BigEndian.AppendUint16(b, f.Flags)
	b = append(b, 0, 0)
	b = appendMatch(b, f.Match)
	return appendInstructions(b, f.Instructions)
}

// PacketOut sends a packet (Data, or a switch buffer) through Actions.
type PacketOut struct {
	BufferID uint32
	InPort   uint32
	Actions  []Action
	Data     []byte
}

func (PacketOut) MsgType() uint8 { return TypePacketOut }
func (p PacketOut) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, p.BufferID)
	b = binary.BigEndian.AppendUint32(b, p.InPort)
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = appendActions(b, p.Actions)
	binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-8))
	if p.BufferID == NoBuffer {
		b = append(b, p.Data...)
	}
	return b
}

// RoleRequest asks the switch to change (or report) this controller's role.
type RoleRequest struct {
	Role         uint32
	GenerationID uint64
}

func (RoleRequest) MsgType() uint8 { return TypeRoleRequest }
func (r RoleRequest) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, r.Role)
	b = append(b, 0, 0, 0, 0)
	return binary.BigEndian.AppendUint64(b, r.GenerationID)
}

// SetAsync sets which asynchronous messages the switch sends.
type SetAsync AsyncConfig

func (SetAsync) MsgType() uint8 { return TypeSetAsync }
func (s SetAsync) AppendBody(b []byte) []byte {
	for _, masks := range [][2]uint32{s.PacketInMask, s.PortStatusMask, s.FlowRemovedMask} {
		b = binary.BigEndian.AppendUint32(b, masks[0])
		b = binary.BigEndian.AppendUint32(b, masks[1])
	}
	return b
}

// Raw is a message whose body is already encoded (tests, replays).
type Raw struct {
	Type uint8
	Body []byte
}

func (r Raw) MsgType() uint8             { return r.Type }
func (r Raw) AppendBody(b []byte) []byte { return append(b, r.Body...) }

// Meters (OpenFlow 1.3 ofp_meter_mod with drop bands).
const (
	MeterAdd    uint16 = 0
	MeterModify uint16 = 1
	MeterDelete uint16 = 2

	MeterFlagPktps uint16 = 1 << 1
	MeterFlagBurst uint16 = 1 << 2
	MeterFlagStats uint16 = 1 << 3

	// MeterController is the virtual meter on the path to the controller
	// (OFPM_CONTROLLER): OVS rate-limits every packet-in through it.
	MeterController uint32 = 0xfffffffe

	ErrMeterModFailed uint16 = 12
)

// MeterMod adds, changes or deletes a meter with one drop band (Rate and
// Burst in packets per second when Flags has MeterFlagPktps).
type MeterMod struct {
	Command uint16
	Flags   uint16
	MeterID uint32
	Rate    uint32 // 0: no band (deletes need none)
	Burst   uint32
}

func (MeterMod) MsgType() uint8 { return TypeMeterMod }
func (m MeterMod) AppendBody(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, m.Command)
	b = binary.BigEndian.AppendUint16(b, m.Flags)
	b = binary.BigEndian.AppendUint32(b, m.MeterID)
	if m.Rate > 0 {
		b = binary.BigEndian.AppendUint16(b, 1) // OFPMBT_DROP
		b = binary.BigEndian.AppendUint16(b, 16)
		b = binary.BigEndian.AppendUint32(b, m.Rate)
		b = binary.BigEndian.AppendUint32(b, m.Burst)
		b = append(b, 0, 0, 0, 0)
	}
	return b
}
