package openflow

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

const (
	// HeaderLen is the size of the fixed OpenFlow header.
	HeaderLen = 8
	// MaxMessageLen is the protocol's own limit: the length field is 16 bits.
	MaxMessageLen = 0xffff
	// MaxHelloLen bounds what a peer may send before version negotiation.
	// A real HELLO is 16 bytes; anything near this is not a switch.
	MaxHelloLen = 1024
)

// ErrBadLength is wrapped by every framing error about a declared length.
var ErrBadLength = errors.New("bad OpenFlow message length")

// Framer splits a byte stream into whole OpenFlow messages. A message
// returned by Next aliases the framer's buffers and is valid only until the
// following call: callers decode (and copy what they keep) before reading
// again. That keeps the receive path free of per-message allocations.
//
// Messages up to readBuffer bytes (nearly all of them) come straight out
// of the read buffer; a larger one (a big multipart part) is read into a
// buffer borrowed from a pool shared by all framers and given back at the
// next call. So an idle switch costs a small buffer, not a 64 KiB one.
type Framer struct {
	r     *bufio.Reader
	max   int
	large *[]byte // borrowed for the last message returned, if it was large
}

// readBuffer is the framer's read buffer size: a full-size packet-in fits.
const readBuffer = 4 << 10

// largeBuffers lends buffers for messages beyond readBuffer.
var largeBuffers = sync.Pool{New: func() any { b := make([]byte, MaxMessageLen); return &b }}

// NewFramer reads from r and rejects any message whose declared length is
// below the header size or above limit (clamped to [HeaderLen, MaxMessageLen]).
func NewFramer(r io.Reader, limit int) *Framer {
	f := &Framer{r: bufio.NewReaderSize(r, readBuffer)}
	f.SetMax(limit)
	return f
}

// SetMax changes the largest message accepted from now on. The session
// raises it from MaxHelloLen once the peer has said HELLO.
func (f *Framer) SetMax(limit int) {
	if limit < HeaderLen || limit > MaxMessageLen {
		limit = MaxMessageLen
	}
	f.max = limit
}

// Next returns the next whole message, header included. A stream that ends
// between messages returns io.EOF; one that ends inside a message returns
// io.ErrUnexpectedEOF wrapped with how much was missing.
func (f *Framer) Next() ([]byte, error) {
	if f.large != nil { // the caller is done with the last message
		largeBuffers.Put(f.large)
		f.large = nil
	}
	hdr, err := f.r.Peek(HeaderLen)
	if err != nil {
		if errors.Is(err, io.EOF) && len(hdr) > 0 {
			return nil, fmt.Errorf("truncated header: got %d of %d bytes: %w", len(hdr), HeaderLen, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[2:4]))
	if n < HeaderLen {
		return nil, fmt.Errorf("%w: header declares %d bytes, minimum is %d (type %d)", ErrBadLength, n, HeaderLen, hdr[1])
	}
	if n > f.max {
		return nil, fmt.Errorf("%w: header declares %d bytes, limit is %d (type %d)", ErrBadLength, n, f.max, hdr[1])
	}
	if n > readBuffer {
		f.large = largeBuffers.Get().(*[]byte)
		msg := (*f.large)[:n]
		got, err := io.ReadFull(f.r, msg)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated message: type %d declares %d bytes, stream ended after %d: %w", msg[1], n, got, io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		return msg, nil
	}
	msg, err := f.r.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("truncated message: type %d declares %d bytes, stream ended after %d: %w", hdr[1], n, len(msg), io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	if _, err := f.r.Discard(n); err != nil {
		return nil, err
	}
	return msg, nil
}
