package openflow

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
)

// Header is the fixed OpenFlow header.
type Header struct {
	Version uint8
	Type    uint8
	Length  uint16
	Xid     uint32
}

// ParseHeader reads the header of b, which must hold at least HeaderLen bytes.
func ParseHeader(b []byte) Header {
	return Header{Version: b[0], Type: b[1], Length: binary.BigEndian.Uint16(b[2:4]), Xid: binary.BigEndian.Uint32(b[4:8])}
}

// Message is any decoded message from a switch.
type Message interface {
	Hdr() Header
}

// Hdr returns the message's header; every message type embeds Header.
func (h Header) Hdr() Header { return h }

// Hello carries the peer's version bitmap when it sent one.
type Hello struct {
	Header
	Bitmap    []uint32 // bit v of word v/32 set: version v supported
	HasBitmap bool
}

// Supports reports whether the peer offered OpenFlow version v.
// Without a bitmap the header version is the peer's highest version and
// it is assumed to support every version up to it (OpenFlow 1.3.5 §6.3.1).
func (h *Hello) Supports(v uint8) bool {
	if !h.HasBitmap {
		return h.Version >= v
	}
	w := int(v) / 32
	return w < len(h.Bitmap) && h.Bitmap[w]&(1<<(v%32)) != 0
}

// Echo is an echo request or reply (Type tells which).
type Echo struct {
	Header
	Data []byte
}

// BarrierReply confirms every earlier message was processed.
type BarrierReply struct{ Header }

// ErrorMsg is OFPT_ERROR. It is also the error value returned to the caller
// whose request the switch rejected.
type ErrorMsg struct {
	Header
	ErrType uint16
	Code    uint16
	// Data holds (at least the start of) the offending request.
	Data []byte
}

func (e *ErrorMsg) Error() string {
	s := fmt.Sprintf("switch error %s", ErrorName(e.ErrType, e.Code))
	if len(e.Data) >= HeaderLen {
		h := ParseHeader(e.Data)
		s += fmt.Sprintf(" for %s xid=%d", TypeName(h.Type), h.Xid)
	}
	return s
}

// FeaturesReply identifies the switch.
type FeaturesReply struct {
	Header
	DPID         uint64
	Buffers      uint32
	Tables       uint8
	AuxiliaryID  uint8
	Capabilities uint32
}

// Port describes one switch port (ofp_port).
type Port struct {
	No         uint32
	HWAddr     net.HardwareAddr
	Name       string
	Config     uint32
	State      uint32
	Curr       uint32
	Advertised uint32
	Supported  uint32
	Peer       uint32
	CurrSpeed  uint32 // kbps
	MaxSpeed   uint32
}

// Up reports whether the port is administratively and physically up.
func (p Port) Up() bool {
	return p.Config&PortConfigDown == 0 && p.State&PortStateLinkDown == 0
}

// PortStatus reports a port added, deleted or modified.
type PortStatus struct {
	Header
	Reason uint8
	Port   Port
}

// PacketIn is a packet the switch sent to the controller.
type PacketIn struct {
	Header
	BufferID uint32
	TotalLen uint16
	Reason   uint8
	TableID  uint8
	Cookie   uint64
	InPort   uint32
	Match    []OXM
	Data     []byte // the frame, starting at the Ethernet header
}

// FlowRemoved reports a flow the switch removed (timeout or delete).
type FlowRemoved struct {
	Header
	Cookie       uint64
	Priority     uint16
	Reason       uint8
	TableID      uint8
	DurationSec  uint32
	DurationNSec uint32
	IdleTimeout  uint16
	HardTimeout  uint16
	Packets      uint64
	Bytes        uint64
	Match        []OXM
}

// MultipartReply is one part of a multipart reply; Conn reassembles the
// parts of a request into one body before returning it.
type MultipartReply struct {
	Header
	MPType uint16
	Flags  uint16
	Body   []byte
}

// More reports whether further parts follow.
func (m *MultipartReply) More() bool { return m.Flags&multipartMore != 0 }

// RoleReply answers a RoleRequest (libOpenflow lacks both).
type RoleReply struct {
	Header
	Role         uint32
	GenerationID uint64
}

// AsyncConfig is the body of GET_ASYNC_REPLY and SET_ASYNC: which
// asynchronous messages the switch sends, per role (index 0 master/equal,
// 1 slave), as bitmaps of reasons.
type AsyncConfig struct {
	Header
	PacketInMask    [2]uint32
	PortStatusMask  [2]uint32
	FlowRemovedMask [2]uint32
}

// SwitchConfig is GET_CONFIG_REPLY.
type SwitchConfig struct {
	Header
	Flags       uint16
	MissSendLen uint16
}

// Experimenter is an experimenter message (bundles, Nicira extensions).
type Experimenter struct {
	Header
	Experimenter uint32
	ExpType      uint32
	Data         []byte
}

var typeNames = map[uint8]string{
	TypeHello: "HELLO", TypeError: "ERROR", TypeEchoRequest: "ECHO_REQUEST", TypeEchoReply: "ECHO_REPLY",
	TypeExperimenter: "EXPERIMENTER", TypeFeaturesRequest: "FEATURES_REQUEST", TypeFeaturesReply: "FEATURES_REPLY",
	7: "GET_CONFIG_REQUEST", TypeGetConfigReply: "GET_CONFIG_REPLY", TypeSetConfig: "SET_CONFIG",
	TypePacketIn: "PACKET_IN", TypeFlowRemoved: "FLOW_REMOVED", TypePortStatus: "PORT_STATUS",
	TypePacketOut: "PACKET_OUT", TypeFlowMod: "FLOW_MOD", 15: "GROUP_MOD", 16: "PORT_MOD", 17: "TABLE_MOD",
	TypeMultipartReq: "MULTIPART_REQUEST", TypeMultipartReply: "MULTIPART_REPLY",
	TypeBarrierRequest: "BARRIER_REQUEST", TypeBarrierReply: "BARRIER_REPLY",
	22: "QUEUE_GET_CONFIG_REQUEST", 23: "QUEUE_GET_CONFIG_REPLY",
	TypeRoleRequest: "ROLE_REQUEST", TypeRoleReply: "ROLE_REPLY", TypeGetAsyncRequest: "GET_ASYNC_REQUEST",
	TypeGetAsyncReply: "GET_ASYNC_REPLY", TypeSetAsync: "SET_ASYNC", 29: "METER_MOD",
}

// TypeName names a message type for logs.
func TypeName(t uint8) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", t)
}

var errTypeNames = []string{"HELLO_FAILED", "BAD_REQUEST", "BAD_ACTION", "BAD_INSTRUCTION", "BAD_MATCH",
	"FLOW_MOD_FAILED", "GROUP_MOD_FAILED", "PORT_MOD_FAILED", "TABLE_MOD_FAILED", "QUEUE_OP_FAILED",
	"SWITCH_CONFIG_FAILED", "ROLE_REQUEST_FAILED", "METER_MOD_FAILED", "TABLE_FEATURES_FAILED"}

// ErrorName renders an error type and code by the spec's name where it
// has one, with the numbers for a search ("OFPBIC_BAD_TABLE_ID
// (BAD_INSTRUCTION/code 2)"); "BAD_MATCH/code 42" otherwise.
func ErrorName(t, code uint16) string {
	name := fmt.Sprintf("type(%d)", t)
	if int(t) < len(errTypeNames) {
		name = errTypeNames[t]
	} else if t == 0xffff {
		name = "EXPERIMENTER"
	}
	numbers := fmt.Sprintf("%s/code %d", name, code)
	if n := errCodeName(t, code); n != "" {
		return n + " (" + numbers + ")"
	}
	return numbers
}

// cString returns the NUL-terminated prefix of b as a string.
func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
