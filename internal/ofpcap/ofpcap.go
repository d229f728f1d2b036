// Package ofpcap reads OpenFlow messages out of classic libpcap captures, for
// decoder tests and fuzz seed corpora built from real switch traffic.
//
// It understands classic pcap files (either byte order, microsecond or
// nanosecond timestamps; pcapng is rejected with a clear error) with link
// types Ethernet, NULL/LOOP (BSD loopback), Linux SLL/SLL2 and raw IP. TCP
// segments to or from the OpenFlow ports 6653, 6633 (legacy) and 6654 (the
// passive listener OVS uses for ovs-ofctl) are reassembled per direction of
// each connection by sequence number, and each direction's byte stream is
// split into OpenFlow messages by the length field of the 8-byte header.
//
// Data the capture lacks (the kernel dropped packets) cannot be recovered:
// a direction's stream stops at the first hole that is never filled, like
// Wireshark's OpenFlow dissector does. [ReadCapture] reports such holes as
// [Loss] records; [Read] and [ReadFile] only return the messages.
package ofpcap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"
)

// Well-known OpenFlow TCP ports.
const (
	PortController       = 6653 // IANA OpenFlow port: the switch connects to the controller here
	PortControllerLegacy = 6633 // pre-IANA OpenFlow port, same roles as 6653
	PortSwitchListener   = 6654 // OVS passive listener (ptcp:6654): ovs-ofctl connects to the switch here
)

// Message is one OpenFlow message seen in a capture.
type Message struct {
	SrcPort, DstPort uint16 // TCP ports, so a caller can tell switch→controller (SrcPort != 6653 && DstPort == 6653 ...) etc.
	// FromSwitch is true when the sender is the switch side: on port 6653
	// (or 6633) the switch is the TCP client (DstPort == 6653); on 6654 the
	// switch is the server (SrcPort == 6654).
	FromSwitch bool
	Index      int    // order within the capture (by time of the segment completing it), from 0
	Bytes      []byte // one whole OpenFlow message, header included

	Src, Dst netip.AddrPort // TCP endpoints of the sender and the receiver
	Frame    int            // 1-based number of the pcap record completing the message (tshark's frame.number)
	Time     time.Time      // timestamp of that record
}

// Version returns the OpenFlow version (header byte 0: 4 for OpenFlow 1.3).
func (m *Message) Version() uint8 { return m.Bytes[0] }

// Type returns the message type (header byte 1).
func (m *Message) Type() uint8 { return m.Bytes[1] }

// Length returns the header's length field, which equals len(m.Bytes).
func (m *Message) Length() uint16 { return binary.BigEndian.Uint16(m.Bytes[2:4]) }

// Xid returns the transaction id (header bytes 4..8).
func (m *Message) Xid() uint32 { return binary.BigEndian.Uint32(m.Bytes[4:8]) }

// Loss records data of one stream direction that could not be turned into
// messages because the capture lacks some of its bytes (or ends mid-message).
type Loss struct {
	Stream string // "src->dst", e.g. "127.0.0.1:6654->127.0.0.1:36698"
	// Offset is the stream offset (bytes after the SYN, or after the first
	// captured byte when the SYN was not captured) where contiguous data ends.
	Offset uint64
	// Missing is the number of bytes known to be absent from Offset on: up to
	// the next captured segment, or else up to the FIN. It is 0 when unknown
	// (the capture just ends, possibly mid-message).
	Missing uint64
	// Discarded counts captured bytes dropped: the incomplete message before
	// Offset plus everything captured after the hole.
	Discarded int
}

// Capture is the result of [ReadCapture].
type Capture struct {
	Messages []Message
	Losses   []Loss
	Records  int    // pcap records read
	LinkType uint32 // pcap link-layer header type
}

// ReadFile reads the OpenFlow messages of the pcap file at path. See [Read].
func ReadFile(path string) ([]Message, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	msgs, err := Read(f)
	if err != nil {
		return msgs, fmt.Errorf("%s: %w", path, err)
	}
	return msgs, nil
}

// OpenFile opens a pcap file, gunzipping it when its name ends in .gz.
func OpenFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return f, err
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gzipFile{z, f}, nil
}

// gzipFile closes both the decompressor and the file under it.
type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error {
	g.Reader.Close()
	return g.f.Close()
}

// Read reads the OpenFlow messages of a classic pcap capture, in the order
// the segments completing them were captured. On error it also returns the
// messages read until then (for a stream error: of all other streams too).
func Read(r io.Reader) ([]Message, error) {
	c, err := ReadCapture(r)
	if c == nil {
		return nil, err
	}
	return c.Messages, err
}

// ReadCapture is like [Read] but also reports lost stream data. A stream
// direction whose data does not parse as OpenFlow (a header with a length
// below 8) is abandoned with an error naming it; the other streams are still
// read, and the returned Capture holds everything read despite the error.
func ReadCapture(r io.Reader) (*Capture, error) {
	p, err := newPcapReader(r)
	if err != nil {
		return nil, err
	}
	a := newAssembler()
	c := &Capture{LinkType: p.linkType}
	var readErr error
	for {
		data, ts, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		seg, ok := decodeTCP(p.linkType, data)
		if !ok || !(isOpenFlowPort(seg.src.Port()) || isOpenFlowPort(seg.dst.Port())) {
			continue
		}
		a.add(seg, p.n, ts)
	}
	c.Records = p.n
	a.finish()
	c.Messages, c.Losses = a.msgs, a.losses
	return c, errors.Join(append(a.errs, readErr)...)
}

func isOpenFlowPort(p uint16) bool {
	return p == PortController || p == PortControllerLegacy || p == PortSwitchListener
}

// fromSwitch tells whether the sender of a segment between the given ports
// is the switch.
func fromSwitch(src, dst uint16) bool {
	switch {
	case src == PortController || src == PortControllerLegacy:
		return false // the controller (server) is sending
	case dst == PortController || dst == PortControllerLegacy:
		return true // the switch (client) is sending to the controller
	case src == PortSwitchListener:
		return true // the switch (server) is answering ovs-ofctl
	default:
		return false
	}
}

// half is the state of one direction of one TCP connection.
type half struct {
	name     string
	src, dst netip.AddrPort
	started  bool   // next is valid
	synSeen  bool   // synSeq is valid
	synSeq   uint32 // sequence number of the SYN that started this stream
	next     uint32 // sequence number of the next in-order byte
	offset   uint64 // stream offset of next
	pending  []pendingSeg
	buf      []byte // delivered bytes not yet forming a whole message
	dead     bool   // abandoned after a malformed header
	finSeen  bool
	finSeq   uint32 // sequence number of the FIN
}

type pendingSeg struct {
	seq  uint32
	data []byte
}

func (h *half) reset() {
	*h = half{name: h.name, src: h.src, dst: h.dst}
}

type flowKey struct{ src, dst netip.AddrPort }

type assembler struct {
	halves map[flowKey]*half
	order  []*half
	msgs   []Message
	losses []Loss
	errs   []error
}

func newAssembler() *assembler {
	return &assembler{halves: make(map[flowKey]*half)}
}

func (a *assembler) half(src, dst netip.AddrPort) *half {
	k := flowKey{src, dst}
	h := a.halves[k]
	if h == nil {
		h = &half{name: src.String() + "->" + dst.String(), src: src, dst: dst}
		a.halves[k] = h
		a.order = append(a.order, h)
	}
	return h
}

// add feeds one captured TCP segment (frame is its 1-based record number).
func (a *assembler) add(seg tcpSegment, frame int, ts time.Time) {
	h := a.half(seg.src, seg.dst)
	if seg.flags&tcpSYN != 0 {
		if !h.synSeen || h.synSeq != seg.seq { // not a retransmitted SYN: a new connection
			a.flush(h)
			h.reset()
			h.started, h.synSeen, h.synSeq, h.next = true, true, seg.seq, seg.seq+1
			if seg.flags&tcpACK == 0 {
				// A client's SYN also ends whatever the reverse direction
				// of this 4-tuple carried before.
				if r := a.halves[flowKey{seg.dst, seg.src}]; r != nil {
					a.flush(r)
					r.reset()
				}
			}
		}
		seg.seq++ // the SYN occupies one sequence number; data follows it
	}
	if seg.flags&tcpFIN != 0 {
		h.finSeen, h.finSeq = true, seg.seq+uint32(len(seg.payload))
	}
	if len(seg.payload) == 0 || h.dead {
		return
	}
	if !h.started { // capture began mid-connection: start at the first data seen
		h.started, h.next = true, seg.seq
	}
	data := seg.payload
	if d := int32(seg.seq - h.next); d > 0 {
		h.addPending(seg.seq, data)
		return
	} else if d < 0 {
		if -int64(d) >= int64(len(data)) {
			return // retransmission of data already delivered
		}
		data = data[-int64(d):]
	}
	a.deliver(h, data, frame, ts)
	for len(h.pending) > 0 && !h.dead {
		p := h.pending[0]
		d := int32(p.seq - h.next)
		if d > 0 {
			break
		}
		h.pending = h.pending[1:]
		if -int64(d) < int64(len(p.data)) {
			a.deliver(h, p.data[-int64(d):], frame, ts)
		}
	}
	if len(h.pending) == 0 {
		h.pending = nil
	}
}

// addPending buffers an out-of-order segment, keeping pending sorted by
// sequence number (relative to next, so wraparound is handled).
func (h *half) addPending(seq uint32, data []byte) {
	rel := func(s uint32) int32 { return int32(s - h.next) }
	i := sort.Search(len(h.pending), func(i int) bool { return rel(h.pending[i].seq) >= rel(seq) })
	if i < len(h.pending) && h.pending[i].seq == seq {
		if len(h.pending[i].data) >= len(data) {
			return // duplicate of a buffered segment
		}
		h.pending[i].data = bytes.Clone(data)
		return
	}
	h.pending = append(h.pending, pendingSeg{})
	copy(h.pending[i+1:], h.pending[i:])
	h.pending[i] = pendingSeg{seq: seq, data: bytes.Clone(data)}
}

// deliver appends in-order stream bytes and emits the messages they complete.
func (a *assembler) deliver(h *half, data []byte, frame int, ts time.Time) {
	h.next += uint32(len(data))
	h.offset += uint64(len(data))
	h.buf = append(h.buf, data...)
	base := h.offset - uint64(len(h.buf)) // stream offset of h.buf[0]
	i := 0
	for len(h.buf)-i >= 8 {
		n := int(binary.BigEndian.Uint16(h.buf[i+2 : i+4]))
		if n < 8 {
			a.errs = append(a.errs, fmt.Errorf("ofpcap: stream %s: OpenFlow header at stream offset %d (record %d) has length %d < 8; stream abandoned",
				h.name, base+uint64(i), frame, n))
			h.dead, h.buf, h.pending = true, nil, nil
			return
		}
		if len(h.buf)-i < n {
			break
		}
		a.msgs = append(a.msgs, Message{
			SrcPort:    h.src.Port(),
			DstPort:    h.dst.Port(),
			FromSwitch: fromSwitch(h.src.Port(), h.dst.Port()),
			Index:      len(a.msgs),
			Bytes:      bytes.Clone(h.buf[i : i+n]),
			Src:        h.src,
			Dst:        h.dst,
			Frame:      frame,
			Time:       ts,
		})
		i += n
	}
	switch {
	case i == len(h.buf):
		h.buf = h.buf[:0]
	case i > 0:
		h.buf = append(h.buf[:0], h.buf[i:]...)
	}
}

// flush records the data of h that can no longer become messages.
func (a *assembler) flush(h *half) {
	if h.dead || !h.started {
		return
	}
	l := Loss{Stream: h.name, Offset: h.offset, Discarded: len(h.buf)}
	switch {
	case len(h.pending) > 0:
		l.Missing = uint64(uint32(h.pending[0].seq - h.next))
		end := h.pending[0].seq
		for _, p := range h.pending { // count buffered bytes once even if segments overlap
			if d := int32(p.seq + uint32(len(p.data)) - end); d > 0 {
				if int(d) > len(p.data) {
					d = int32(len(p.data))
				}
				l.Discarded += int(d)
				end = p.seq + uint32(len(p.data))
			}
		}
	case h.finSeen && int32(h.finSeq-h.next) > 0:
		l.Missing = uint64(uint32(h.finSeq - h.next))
	case len(h.buf) == 0:
		return // nothing lost
	}
	a.losses = append(a.losses, l)
}

func (a *assembler) finish() {
	for _, h := range a.order {
		a.flush(h)
	}
}
