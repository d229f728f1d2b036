package ofpcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Classic libpcap magic numbers, as read little-endian from the first four
// bytes of a file.
const (
	magicMicro      = 0xa1b2c3d4 // microsecond timestamps
	magicNano       = 0xa1b23c4d // nanosecond timestamps
	magicModified   = 0xa1b2cd34 // Alexey Kuznetsov's patched libpcap: 8 more bytes per record
	magicPcapNG     = 0x0a0d0d0a // pcapng Section Header Block (not supported)
	maxRecordLength = 1 << 26    // sanity limit for one record's captured length
)

// Link-layer header types (https://www.tcpdump.org/linktypes.html).
const (
	linkNull     = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	linkEthernet = 1   // Ethernet II
	linkRawAlt1  = 12  // raw IP on some BSDs
	linkRawAlt2  = 14  // raw IP on OpenBSD
	linkRaw      = 101 // raw IPv4/IPv6
	linkLoop     = 108 // OpenBSD loopback: 4-byte address family, big-endian
	linkSLL      = 113 // Linux "cooked" capture v1
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276 // Linux "cooked" capture v2
)

// pcapReader reads the records of a classic pcap file.
type pcapReader struct {
	r        *bufio.Reader
	order    binary.ByteOrder
	nano     bool
	extra    int // bytes after each 16-byte record header (modified pcap format)
	linkType uint32
	snapLen  uint32
	hdr      []byte
	buf      []byte
	n        int // records read so far
}

func newPcapReader(r io.Reader) (*pcapReader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var h [24]byte
	if n, err := io.ReadFull(br, h[:]); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, errors.New("ofpcap: empty input, not a pcap file")
		}
		if n >= 4 && binary.LittleEndian.Uint32(h[:4]) == magicPcapNG {
			return nil, errors.New("ofpcap: pcapng format is not supported (convert with: editcap -F pcap in.pcapng out.pcap)")
		}
		return nil, fmt.Errorf("ofpcap: reading pcap file header: %w", err)
	}
	p := &pcapReader{r: br}
	le, be := binary.LittleEndian.Uint32(h[:4]), binary.BigEndian.Uint32(h[:4])
	switch {
	case le == magicMicro:
		p.order = binary.LittleEndian
	case be == magicMicro:
		p.order = binary.BigEndian
	case le == magicNano:
		p.order, p.nano = binary.LittleEndian, true
	case be == magicNano:
		p.order, p.nano = binary.BigEndian, true
	case le == magicModified:
		p.order, p.extra = binary.LittleEndian, 8
	case be == magicModified:
		p.order, p.extra = binary.BigEndian, 8
	case le == magicPcapNG:
		return nil, errors.New("ofpcap: pcapng format is not supported (convert with: editcap -F pcap in.pcapng out.pcap)")
	default:
		return nil, fmt.Errorf("ofpcap: not a classic pcap file (magic % x)", h[:4])
	}
	if major := p.order.Uint16(h[4:6]); major != 2 {
		return nil, fmt.Errorf("ofpcap: unsupported pcap version %d.%d", major, p.order.Uint16(h[6:8]))
	}
	p.snapLen = p.order.Uint32(h[16:20])
	// The upper bits of the link-type field can carry FCS information; the
	// link type proper is in the low 26 bits. Trailing FCS bytes need no
	// special treatment: IP packets are trimmed to their own length.
	p.linkType = p.order.Uint32(h[20:24]) & 0x03ffffff
	switch p.linkType {
	case linkNull, linkEthernet, linkRawAlt1, linkRawAlt2, linkRaw, linkLoop, linkSLL, linkIPv4, linkIPv6, linkSLL2:
	default:
		return nil, fmt.Errorf("ofpcap: unsupported pcap link type %d (supported: 0 NULL, 1 Ethernet, 12/14/101 raw IP, 108 LOOP, 113 Linux SLL, 228 IPv4, 229 IPv6, 276 Linux SLL2)", p.linkType)
	}
	p.hdr = make([]byte, 16+p.extra)
	return p, nil
}

// next returns the next record's captured bytes (valid until the next call)
// and timestamp. It returns io.EOF at a clean end of file.
func (p *pcapReader) next() ([]byte, time.Time, error) {
	n, err := io.ReadFull(p.r, p.hdr)
	if err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return nil, time.Time{}, io.EOF
		}
		return nil, time.Time{}, fmt.Errorf("ofpcap: record %d: truncated record header: %w", p.n+1, io.ErrUnexpectedEOF)
	}
	p.n++
	sec, frac := p.order.Uint32(p.hdr[0:4]), p.order.Uint32(p.hdr[4:8])
	incl := p.order.Uint32(p.hdr[8:12])
	if incl > maxRecordLength {
		return nil, time.Time{}, fmt.Errorf("ofpcap: record %d: implausible captured length %d (corrupt file?)", p.n, incl)
	}
	if cap(p.buf) < int(incl) {
		p.buf = make([]byte, incl)
	}
	data := p.buf[:incl]
	if _, err := io.ReadFull(p.r, data); err != nil {
		return nil, time.Time{}, fmt.Errorf("ofpcap: record %d: truncated packet data (%d bytes announced): %w", p.n, incl, io.ErrUnexpectedEOF)
	}
	nsec := int64(frac)
	if !p.nano {
		nsec *= 1000
	}
	return data, time.Unix(int64(sec), nsec).UTC(), nil
}

// tcpSegment is the part of a TCP/IP packet the reassembler needs.
type tcpSegment struct {
	src, dst netip.AddrPort
	seq      uint32
	flags    byte
	payload  []byte
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// decodeTCP extracts a TCP segment from one record of the given link type.
// ok is false for anything that is not an unfragmented TCP segment over
// IPv4/IPv6 with a complete TCP header.
func decodeTCP(linkType uint32, data []byte) (seg tcpSegment, ok bool) {
	var ip []byte
	switch linkType {
	case linkEthernet:
		if len(data) < 14 {
			return seg, false
		}
		etherType := binary.BigEndian.Uint16(data[12:14])
		data = data[14:]
		for etherType == 0x8100 || etherType == 0x88a8 || etherType == 0x9100 { // VLAN tags
			if len(data) < 4 {
				return seg, false
			}
			etherType = binary.BigEndian.Uint16(data[2:4])
			data = data[4:]
		}
		if etherType != 0x0800 && etherType != 0x86dd {
			return seg, false
		}
		ip = data
	case linkSLL:
		if len(data) < 16 {
			return seg, false
		}
		if proto := binary.BigEndian.Uint16(data[14:16]); proto != 0x0800 && proto != 0x86dd {
			return seg, false
		}
		ip = data[16:]
	case linkSLL2:
		if len(data) < 20 {
			return seg, false
		}
		if proto := binary.BigEndian.Uint16(data[0:2]); proto != 0x0800 && proto != 0x86dd {
			return seg, false
		}
		ip = data[20:]
	case linkNull, linkLoop:
		// The 4-byte address family is in the capturing host's byte order
		// (NULL) or big-endian (LOOP), and AF_INET6 differs between
		// systems, so rely on the IP version nibble instead.
		if len(data) < 4 {
			return seg, false
		}
		ip = data[4:]
	default: // raw IP
		ip = data
	}
	return decodeIP(ip)
}

func decodeIP(ip []byte) (seg tcpSegment, ok bool) {
	if len(ip) < 1 {
		return seg, false
	}
	var tcp []byte
	switch ip[0] >> 4 {
	case 4:
		if len(ip) < 20 {
			return seg, false
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || len(ip) < ihl {
			return seg, false
		}
		if fragOff := binary.BigEndian.Uint16(ip[6:8]); fragOff&0x3fff != 0 { // MF flag or offset: a fragment
			return seg, false
		}
		if ip[9] != 6 {
			return seg, false
		}
		// Trim link-layer padding; a total length of 0 (TSO) or one larger
		// than what was captured (snaplen) leaves the captured bytes as is.
		if total >= ihl && total <= len(ip) {
			ip = ip[:total]
		}
		seg.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), 0)
		seg.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), 0)
		tcp = ip[ihl:]
	case 6:
		if len(ip) < 40 {
			return seg, false
		}
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		if plen != 0 && 40+plen <= len(ip) {
			ip = ip[:40+plen]
		}
		seg.src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[8:24])), 0)
		seg.dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(ip[24:40])), 0)
		next, rest := ip[6], ip[40:]
		for next != 6 {
			switch next {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(rest) < 8 {
					return seg, false
				}
				n := (int(rest[1]) + 1) * 8
				if len(rest) < n {
					return seg, false
				}
				next, rest = rest[0], rest[n:]
			case 51: // authentication header
				if len(rest) < 8 {
					return seg, false
				}
				n := (int(rest[1]) + 2) * 4
				if len(rest) < n {
					return seg, false
				}
				next, rest = rest[0], rest[n:]
			default: // fragments (44), ESP, anything else
				return seg, false
			}
		}
		tcp = rest
	default:
		return seg, false
	}
	if len(tcp) < 20 {
		return seg, false
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || len(tcp) < off {
		return seg, false
	}
	seg.src = netip.AddrPortFrom(seg.src.Addr(), binary.BigEndian.Uint16(tcp[0:2]))
	seg.dst = netip.AddrPortFrom(seg.dst.Addr(), binary.BigEndian.Uint16(tcp[2:4]))
	seg.seq = binary.BigEndian.Uint32(tcp[4:8])
	seg.flags = tcp[13]
	seg.payload = tcp[off:]
	return seg, true
}
