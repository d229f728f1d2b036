// Package fakeswitch is an in-process OpenFlow 1.3 switch for unit tests
// and load generation: it completes a real handshake, answers echo,
// features, port-desc and barrier requests, and records what the
// controller sends. It forwards no packets; integration tests use real OVS.
package fakeswitch

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/loomsdn/loom/internal/ofsim"
	"github.com/loomsdn/loom/openflow"
)

// Switch is one fake switch connection.
type Switch struct {
	DPID  uint64
	Ports []openflow.Port
	conn  net.Conn

	mu       sync.Mutex
	flowMods []openflow.FlowMod
	received []openflow.Header
	outs     [][]byte
	changed  chan struct{}
	done     chan struct{}
	mute     bool
	roles    []RoleSeen

	// Table is the switch's flow table: flow-mods and bundles apply to it
	// and flow-stats requests read it.
	Table *ofsim.Switch
	// NoBundles makes the switch refuse bundles, as a switch without the
	// ONF extension would.
	NoBundles bool
}

// Mute stops the switch answering anything, as a hung switch would.
func (s *Switch) Mute() {
	s.mu.Lock()
	s.mute = true
	s.mu.Unlock()
}

// Start runs a fake switch with dpid and ports to a controller at conn.
// The caller owns conn's other end.
func Start(conn net.Conn, dpid uint64, ports ...openflow.Port) *Switch {
	s := &Switch{DPID: dpid, Ports: ports, conn: conn, changed: make(chan struct{}, 1), done: make(chan struct{}), Table: ofsim.New()}
	s.write(openflow.Encode(openflow.HelloMsg{}, 1))
	go s.serve()
	return s
}

// Close disconnects.
func (s *Switch) Close() { s.conn.Close(); <-s.done }

// Done is closed when the connection has ended.
func (s *Switch) Done() <-chan struct{} { return s.done }

// write sends b; a lost write shows in the test as the controller's missing answer.
func (s *Switch) write(b []byte) { _, _ = s.conn.Write(b) }

// Send writes a raw message to the controller.
func (s *Switch) Send(b []byte) { s.write(b) }

func (s *Switch) serve() {
	defer close(s.done)
	f := openflow.NewFramer(s.conn, openflow.MaxMessageLen)
	for {
		raw, err := f.Next()
		if err != nil {
			return
		}
		// The framer reuses its buffer; everything kept must own its bytes.
		raw = append([]byte(nil), raw...)
		h := openflow.ParseHeader(raw)
		if s.record(h, raw) {
			continue
		}
		switch h.Type {
		case openflow.TypeFeaturesRequest:
			b := make([]byte, 24)
			binary.BigEndian.PutUint64(b, s.DPID)
			binary.BigEndian.PutUint32(b[8:], 0) // no buffers
			b[12] = 254
			s.write(rawMsg(openflow.TypeFeaturesReply, h.Xid, b))
		case openflow.TypeMultipartReq:
			switch binary.BigEndian.Uint16(raw[8:]) {
			case openflow.MultipartPortDesc:
				var body []byte
				for _, p := range s.Ports {
					body = append(body, encodePort(p)...)
				}
				s.multipartReply(h.Xid, openflow.MultipartPortDesc, body)
			case openflow.MultipartFlow:
				s.multipartReply(h.Xid, openflow.MultipartFlow, s.Table.FlowStatsBody())
			}
		case openflow.TypeFlowMod:
			fm, err := openflow.ParseFlowMod(raw)
			if err == nil {
				err = s.Table.Apply(fm)
			}
			if err != nil {
				s.write(errorMsg(h.Xid, 5, 0, raw)) // FLOW_MOD_FAILED
			}
		case openflow.TypeExperimenter:
			s.bundle(h.Xid, raw)
		case openflow.TypeBarrierRequest:
			s.write(rawMsg(openflow.TypeBarrierReply, h.Xid, nil))
		case openflow.TypeEchoRequest:
			s.write(rawMsg(openflow.TypeEchoReply, h.Xid, raw[8:]))
		case openflow.TypeRoleRequest:
			if len(raw) >= 24 {
				s.mu.Lock()
				s.roles = append(s.roles, RoleSeen{Role: binary.BigEndian.Uint32(raw[8:]), Generation: binary.BigEndian.Uint64(raw[16:]),
					After: len(s.flowMods)})
				s.mu.Unlock()
			}
			s.write(rawMsg(openflow.TypeRoleReply, h.Xid, raw[8:])) // granted, as OVS does for a fresh generation
		}
	}
}

// multipartReply sends body in parts of whole entries, with REPLY_MORE on
// all but the last, as OVS does for large tables.
func (s *Switch) multipartReply(xid uint32, mpType uint16, body []byte) {
	const maxPart = 60000
	for {
		n := len(body)
		if n > maxPart {
			n = entryBoundary(mpType, body, maxPart)
		}
		more := byte(0)
		if n < len(body) {
			more = 1
		}
		head := []byte{0, byte(mpType), 0, more, 0, 0, 0, 0}
		s.write(rawMsg(openflow.TypeMultipartReply, xid, append(head, body[:n]...)))
		body = body[n:]
		if len(body) == 0 {
			return
		}
	}
}

// entryBoundary returns the largest offset <= limit that ends a whole entry.
func entryBoundary(mpType uint16, body []byte, limit int) int {
	if mpType == openflow.MultipartPortDesc {
		return limit / 64 * 64
	}
	off := 0
	for off < len(body) {
		n := int(binary.BigEndian.Uint16(body[off:]))
		if off+n > limit {
			break
		}
		off += n
	}
	return off
}

// bundle handles the ONF bundle messages (open, add, commit, discard).
func (s *Switch) bundle(xid uint32, raw []byte) {
	if len(raw) < 24 || binary.BigEndian.Uint32(raw[8:]) != openflow.ONFExperimenterID {
		return
	}
	if s.NoBundles {
		s.write(errorMsg(xid, 1, 3, raw)) // BAD_REQUEST / BAD_EXPERIMENTER
		return
	}
	id := binary.BigEndian.Uint32(raw[16:])
	switch binary.BigEndian.Uint32(raw[12:]) {
	case 2301: // add
		fm, err := openflow.ParseFlowMod(raw[24:])
		if err != nil {
			s.write(errorMsg(xid, 1, 6, raw))
			return
		}
		s.Table.BundleAdd(id, fm)
	case 2300: // control
		typ := binary.BigEndian.Uint16(raw[20:])
		if typ == openflow.BundleCommitRequest {
			if err := s.Table.BundleCommit(id); err != nil {
				s.write(errorMsg(xid, 0xffff, 2313, raw)) // ONF bundle failed
				return
			}
		}
		reply := append([]byte(nil), raw[8:24]...)
		binary.BigEndian.PutUint16(reply[12:], typ+1) // each request's reply is the next code
		s.write(rawMsg(openflow.TypeExperimenter, xid, reply))
	}
}

func errorMsg(xid uint32, typ, code uint16, offending []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, code)
	if len(offending) > 64 {
		offending = offending[:64]
	}
	return rawMsg(openflow.TypeError, xid, append(b, offending...))
}

// record notes a message; true when the switch is muted.
func (s *Switch) record(h openflow.Header, raw []byte) bool {
	s.mu.Lock()
	mute := s.mute
	s.received = append(s.received, h)
	switch h.Type {
	case openflow.TypePacketOut:
		s.outs = append(s.outs, append([]byte(nil), raw...))
	case openflow.TypeFlowMod:
		s.flowMods = append(s.flowMods, decodeFlowMod(append([]byte(nil), raw...)))
	case openflow.TypeExperimenter:
		if len(raw) > 24+8 && binary.BigEndian.Uint32(raw[12:]) == 2301 && raw[25] == openflow.TypeFlowMod {
			s.flowMods = append(s.flowMods, decodeFlowMod(append([]byte(nil), raw[24:]...)))
		}
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return mute
}

// Changed is signalled after every message from the controller.
func (s *Switch) Changed() <-chan struct{} { return s.changed }

// RoleSeen is a role request the switch received: the role, the
// generation id, and how many flow-mods had come before it.
type RoleSeen struct {
	Role       uint32
	Generation uint64
	After      int
}

// Roles returns the role requests received so far.
func (s *Switch) Roles() []RoleSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RoleSeen(nil), s.roles...)
}

// FlowMods returns the flow-mods received so far.
func (s *Switch) FlowMods() []openflow.FlowMod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]openflow.FlowMod(nil), s.flowMods...)
}

// PacketOuts returns the raw packet-outs received so far.
func (s *Switch) PacketOuts() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.outs...)
}

// Received returns the headers of everything received so far.
func (s *Switch) Received() []openflow.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]openflow.Header(nil), s.received...)
}

// PacketIn builds a table-miss packet-in of frame from inPort.
func PacketIn(xid uint32, table uint8, cookie uint64, inPort uint32, frame []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, openflow.NoBuffer)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frame)))
	b = append(b, openflow.PacketInNoMatch, table)
	b = binary.BigEndian.AppendUint64(b, cookie)
	// match: OXM type, length 12, in_port TLV, 4 bytes padding
	b = append(b, 0, 1, 0, 12, 0x80, 0, 0, 4)
	b = binary.BigEndian.AppendUint32(b, inPort)
	b = append(b, 0, 0, 0, 0, 0, 0) // 4 bytes match padding + 2 bytes pad
	b = append(b, frame...)
	return rawMsg(openflow.TypePacketIn, xid, b)
}

// PortStatus builds a port-status message.
func PortStatus(xid uint32, reason uint8, p openflow.Port) []byte {
	return rawMsg(openflow.TypePortStatus, xid, append([]byte{reason, 0, 0, 0, 0, 0, 0, 0}, encodePort(p)...))
}

func rawMsg(typ uint8, xid uint32, body []byte) []byte {
	b := []byte{openflow.Version, typ, 0, 0}
	b = binary.BigEndian.AppendUint32(b, xid)
	b = append(b, body...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func encodePort(p openflow.Port) []byte {
	b := binary.BigEndian.AppendUint32(nil, p.No)
	b = append(b, 0, 0, 0, 0)
	hw := make([]byte, 6)
	copy(hw, p.HWAddr)
	b = append(b, hw...)
	b = append(b, 0, 0)
	name := make([]byte, 16)
	copy(name, p.Name)
	b = append(b, name...)
	for _, v := range []uint32{p.Config, p.State, p.Curr, p.Advertised, p.Supported, p.Peer, p.CurrSpeed, p.MaxSpeed} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// decodeFlowMod reads back the fields tests look at.
func decodeFlowMod(raw []byte) openflow.FlowMod {
	fm := openflow.FlowMod{Cookie: binary.BigEndian.Uint64(raw[8:]), TableID: raw[24], Command: raw[25],
		Priority: binary.BigEndian.Uint16(raw[30:])}
	if oxms, err := openflow.ParseOXMs(matchOXMs(raw[48:])); err == nil {
		fm.Match = oxms
	}
	return fm
}

func matchOXMs(b []byte) []byte {
	if len(b) < 4 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n < 4 || n > len(b) {
		return nil
	}
	return b[4:n]
}
