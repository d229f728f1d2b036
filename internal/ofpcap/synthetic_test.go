package ofpcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Synthetic captures: a small pcap writer and reassembly cases.

type pkt struct {
	src, dst string // "addr:port"
	seq      uint32
	flags    byte
	payload  []byte
}

type pcapFormat struct {
	order binary.ByteOrder // default little-endian
	nano  bool
	link  uint32 // default Ethernet
	pad   bool   // pad Ethernet frames to 60 bytes with garbage
}

// ofMsg returns an OpenFlow 1.3 message of the given type, xid and total
// length (at least 8), its body filled with a recognisable pattern.
func ofMsg(typ uint8, xid uint32, length int) []byte {
	b := make([]byte, length)
	b[0], b[1] = 4, typ
	binary.BigEndian.PutUint16(b[2:4], uint16(length))
	binary.BigEndian.PutUint32(b[4:8], xid)
	for i := 8; i < length; i++ {
		b[i] = byte(i*7 + int(xid))
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func ipPacket(p pkt) []byte {
	src, dst := netip.MustParseAddrPort(p.src), netip.MustParseAddrPort(p.dst)
	tcp := make([]byte, 20, 20+len(p.payload))
	binary.BigEndian.PutUint16(tcp[0:2], src.Port())
	binary.BigEndian.PutUint16(tcp[2:4], dst.Port())
	binary.BigEndian.PutUint32(tcp[4:8], p.seq)
	tcp[12] = 5 << 4
	tcp[13] = p.flags
	if p.flags&tcpSYN == 0 {
		tcp[13] |= tcpACK // ACK on everything after the SYN
	}
	tcp = append(tcp, p.payload...)
	if src.Addr().Is4() {
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(20+len(tcp)))
		ip[8], ip[9] = 64, 6
		copy(ip[12:16], src.Addr().AsSlice())
		copy(ip[16:20], dst.Addr().AsSlice())
		return append(ip, tcp...)
	}
	ip := make([]byte, 40)
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(tcp)))
	ip[6], ip[7] = 6, 64
	copy(ip[8:24], src.Addr().AsSlice())
	copy(ip[24:40], dst.Addr().AsSlice())
	return append(ip, tcp...)
}

func linkFrame(f pcapFormat, p pkt) []byte {
	ip := ipPacket(p)
	etherType := []byte{0x08, 0x00}
	if ip[0]>>4 == 6 {
		etherType = []byte{0x86, 0xdd}
	}
	switch f.link {
	case linkEthernet:
		fr := cat(make([]byte, 12), etherType, ip)
		if f.pad {
			for len(fr) < 60 {
				fr = append(fr, 0xee)
			}
		}
		return fr
	case linkNull:
		fam := make([]byte, 4)
		f.order.PutUint32(fam, 2)
		return cat(fam, ip)
	case linkLoop:
		return cat([]byte{0, 0, 0, 2}, ip)
	case linkSLL:
		hdr := make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:4], 772) // ARPHRD_LOOPBACK
		copy(hdr[14:16], etherType)
		return cat(hdr, ip)
	case linkSLL2:
		hdr := make([]byte, 20)
		copy(hdr[0:2], etherType)
		return cat(hdr, ip)
	default: // raw IP
		return ip
	}
}

func buildPcap(f pcapFormat, pkts ...pkt) []byte {
	if f.order == nil {
		f.order = binary.LittleEndian
	}
	if f.link == 0 { // zero value means Ethernet; use linkNullExplicit for NULL
		f.link = linkEthernet
	}
	if f.link == linkNullExplicit {
		f.link = linkNull
	}
	var b bytes.Buffer
	h := make([]byte, 24)
	magic := uint32(magicMicro)
	if f.nano {
		magic = magicNano
	}
	f.order.PutUint32(h[0:4], magic)
	f.order.PutUint16(h[4:6], 2)
	f.order.PutUint16(h[6:8], 4)
	f.order.PutUint32(h[16:20], 262144)
	f.order.PutUint32(h[20:24], f.link)
	b.Write(h)
	for i, p := range pkts {
		fr := linkFrame(f, p)
		r := make([]byte, 16)
		f.order.PutUint32(r[0:4], uint32(1700000000+i))
		f.order.PutUint32(r[4:8], uint32(i*1000))
		f.order.PutUint32(r[8:12], uint32(len(fr)))
		f.order.PutUint32(r[12:16], uint32(len(fr)))
		b.Write(r)
		b.Write(fr)
	}
	return b.Bytes()
}

const linkNullExplicit = 1 << 20 // test-only stand-in for link type 0

const (
	swAddr  = "127.0.0.1:40000" // switch, TCP client of the controller
	ctlAddr = "127.0.0.1:6653"
)

// handshake returns SYN, SYN-ACK for a connection from client to server,
// with initial sequence numbers cISN and sISN.
func handshake(client, server string, cISN, sISN uint32) []pkt {
	return []pkt{
		{src: client, dst: server, seq: cISN, flags: tcpSYN},
		{src: server, dst: client, seq: sISN, flags: tcpSYN | tcpACK},
		{src: client, dst: server, seq: cISN + 1},
	}
}

func read(t *testing.T, data []byte) *Capture {
	t.Helper()
	c, err := ReadCapture(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadCapture: %v", err)
	}
	return c
}

func wantMessages(t *testing.T, got []Message, want ...[]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !bytes.Equal(got[i].Bytes, want[i]) {
			t.Errorf("message %d = % x\nwant % x", i, got[i].Bytes, want[i])
		}
		if got[i].Index != i {
			t.Errorf("message %d has Index %d", i, got[i].Index)
		}
	}
}

func TestSplitOverThreeSegments(t *testing.T) {
	m := ofMsg(10, 7, 300)
	const isn = 1000
	pkts := append(handshake(swAddr, ctlAddr, isn, 5000),
		pkt{src: swAddr, dst: ctlAddr, seq: isn + 1, payload: m[:5]}, // not even a whole header
		pkt{src: swAddr, dst: ctlAddr, seq: isn + 6, payload: m[5:200]},
		pkt{src: ctlAddr, dst: swAddr, seq: 5001}, // pure ACK
		pkt{src: swAddr, dst: ctlAddr, seq: isn + 201, payload: m[200:]},
	)
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, m)
	got := c.Messages[0]
	if got.Frame != 7 || got.SrcPort != 40000 || got.DstPort != 6653 || !got.FromSwitch {
		t.Errorf("message: Frame %d, %d→%d FromSwitch=%v; want frame 7, 40000→6653, from switch", got.Frame, got.SrcPort, got.DstPort, got.FromSwitch)
	}
	if want := "2023-11-14 22:13:26.006 +0000 UTC"; got.Time.String() != want {
		t.Errorf("Time = %v, want %v", got.Time, want)
	}
	if len(c.Losses) != 0 {
		t.Errorf("Losses = %+v", c.Losses)
	}
}

func TestThreeMessagesInOneSegment(t *testing.T) {
	a, b, m3 := ofMsg(0, 1, 8), ofMsg(2, 2, 16), ofMsg(13, 3, 40)
	reply := ofMsg(3, 2, 16)
	pkts := append(handshake(swAddr, ctlAddr, 0, 0xffffff00),
		pkt{src: ctlAddr, dst: swAddr, seq: 0xffffff01, payload: cat(a, b, m3)},
		pkt{src: swAddr, dst: ctlAddr, seq: 1, payload: reply},
	)
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, a, b, m3, reply)
	for i, m := range c.Messages[:3] {
		if m.Frame != 4 || m.FromSwitch || m.SrcPort != 6653 {
			t.Errorf("message %d: frame %d, FromSwitch %v, SrcPort %d", i, m.Frame, m.FromSwitch, m.SrcPort)
		}
	}
	if !c.Messages[3].FromSwitch {
		t.Errorf("reply not FromSwitch")
	}
}

func TestRetransmission(t *testing.T) {
	m1, m2, m3 := ofMsg(10, 1, 100), ofMsg(10, 2, 60), ofMsg(10, 3, 80)
	stream := cat(m1, m2, m3)
	const isn = 0xfffffff0 // sequence numbers wrap inside the stream
	seg := func(from, to int) pkt {
		return pkt{src: swAddr, dst: ctlAddr, seq: isn + 1 + uint32(from), payload: stream[from:to]}
	}
	pkts := append(handshake(swAddr, ctlAddr, isn, 77),
		seg(0, 50),
		seg(0, 50),    // exact duplicate
		seg(120, 180), // out of order, beyond a hole
		seg(120, 180), // duplicate of a buffered segment
		seg(20, 130),  // retransmission overlapping both sides, fills the hole
		seg(100, 160), // late duplicate
		pkt{src: swAddr, dst: ctlAddr, seq: isn, flags: tcpSYN}, // retransmitted SYN: no reset
		seg(180, 240),
		// 2^31 bytes behind: taken as old data, not as a wild index.
		pkt{src: swAddr, dst: ctlAddr, seq: isn + 1 + 240 - 1<<31, payload: m1},
	)
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, m1, m2, m3)
	if c.Messages[0].Frame != 8 || c.Messages[1].Frame != 8 || c.Messages[2].Frame != 11 {
		t.Errorf("frames %d %d %d, want 8 8 11", c.Messages[0].Frame, c.Messages[1].Frame, c.Messages[2].Frame)
	}
	if len(c.Losses) != 0 {
		t.Errorf("Losses = %+v", c.Losses)
	}
}

func TestZeroLengthHeader(t *testing.T) {
	good := ofMsg(0, 1, 8)
	bad := ofMsg(0, 2, 8)
	binary.BigEndian.PutUint16(bad[2:4], 0)
	other := "127.0.0.1:40002"
	capture := func() []byte {
		pkts := append(handshake(swAddr, ctlAddr, 100, 200),
			pkt{src: swAddr, dst: ctlAddr, seq: 101, payload: cat(good, bad, good)},
			pkt{src: swAddr, dst: ctlAddr, seq: 125, payload: good}, // ignored: stream abandoned
		)
		pkts = append(pkts, handshake(other, ctlAddr, 100, 200)...)
		pkts = append(pkts, pkt{src: other, dst: ctlAddr, seq: 101, payload: good})
		return buildPcap(pcapFormat{}, pkts...)
	}
	c, err := ReadCapture(bytes.NewReader(capture()))
	if err == nil {
		t.Fatal("no error for a header with length 0")
	}
	for _, s := range []string{"127.0.0.1:40000->127.0.0.1:6653", "length 0", "offset 8"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	wantMessages(t, c.Messages, good, good) // one per stream
	if c.Messages[1].SrcPort != 40002 {
		t.Errorf("second message from port %d, want 40002", c.Messages[1].SrcPort)
	}

	msgs, err := Read(bytes.NewReader(capture()))
	if err == nil || len(msgs) != 2 {
		t.Errorf("Read: %d messages, error %v", len(msgs), err)
	}
	// A length between 1 and 7 is as bad.
	binary.BigEndian.PutUint16(bad[2:4], 7)
	if _, err := Read(bytes.NewReader(capture())); err == nil || !strings.Contains(err.Error(), "length 7") {
		t.Errorf("length 7: error %v", err)
	}
}

func TestSYNResetsStream(t *testing.T) {
	a, b := ofMsg(0, 1, 8), ofMsg(0, 2, 8)
	pkts := append(handshake(swAddr, ctlAddr, 100, 200),
		pkt{src: swAddr, dst: ctlAddr, seq: 101, payload: a[:4]}, // left incomplete
		pkt{src: ctlAddr, dst: swAddr, seq: 201, payload: a[:6]}, // left incomplete
		pkt{src: swAddr, dst: ctlAddr, seq: 120, payload: a},     // beyond a hole
		pkt{src: swAddr, dst: ctlAddr, seq: 5000, flags: tcpSYN}, // same 4-tuple, new connection
		pkt{src: ctlAddr, dst: swAddr, seq: 9000, flags: tcpSYN | tcpACK},
		pkt{src: swAddr, dst: ctlAddr, seq: 5001, payload: b},
		pkt{src: ctlAddr, dst: swAddr, seq: 9001, payload: a},
	)
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, b, a)
	want := []Loss{
		{Stream: "127.0.0.1:40000->127.0.0.1:6653", Offset: 4, Missing: 15, Discarded: 4 + 8},
		{Stream: "127.0.0.1:6653->127.0.0.1:40000", Offset: 6, Discarded: 6},
	}
	if fmt.Sprint(c.Losses) != fmt.Sprint(want) {
		t.Errorf("Losses = %+v\nwant %+v", c.Losses, want)
	}
}

// A hole that is never filled stops the stream; data after it is reported
// as lost, as is data missing before a FIN.
func TestUnfilledHole(t *testing.T) {
	a := ofMsg(19, 1, 100)
	pkts := append(handshake(swAddr, ctlAddr, 0, 0),
		pkt{src: swAddr, dst: ctlAddr, seq: 1, payload: cat(a, a[:30])},
		pkt{src: swAddr, dst: ctlAddr, seq: 201, payload: a}, // bytes 130..200 never captured
		pkt{src: ctlAddr, dst: swAddr, seq: 1, payload: a[:50]},
		pkt{src: ctlAddr, dst: swAddr, seq: 151, flags: tcpFIN}, // bytes 50..150 never captured
	)
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, a)
	want := []Loss{
		{Stream: "127.0.0.1:40000->127.0.0.1:6653", Offset: 130, Missing: 70, Discarded: 130},
		{Stream: "127.0.0.1:6653->127.0.0.1:40000", Offset: 50, Missing: 100, Discarded: 50},
	}
	if fmt.Sprint(c.Losses) != fmt.Sprint(want) {
		t.Errorf("Losses = %+v\nwant %+v", c.Losses, want)
	}
}

func TestMidStreamStartAndOtherTraffic(t *testing.T) {
	a := ofMsg(14, 9, 56)
	pkts := []pkt{
		{src: "10.0.0.1:6654", dst: "10.0.0.2:33000", seq: 123456, payload: a}, // no SYN captured
		{src: "10.0.0.1:80", dst: "10.0.0.2:33001", seq: 1, payload: []byte("HTTP/1.1 200 OK\r\n")},
		{src: "10.0.0.2:33000", dst: "10.0.0.1:6654", seq: 99, payload: a},
		{src: "10.0.0.2:33002", dst: "10.0.0.1:6633", seq: 5, payload: a},
	}
	c := read(t, buildPcap(pcapFormat{}, pkts...))
	wantMessages(t, c.Messages, a, a, a)
	for i, want := range []bool{true, false, true} {
		if c.Messages[i].FromSwitch != want {
			t.Errorf("message %d (%d→%d): FromSwitch %v, want %v", i, c.Messages[i].SrcPort, c.Messages[i].DstPort, c.Messages[i].FromSwitch, want)
		}
	}
}

func TestFromSwitch(t *testing.T) {
	for _, tc := range []struct {
		src, dst uint16
		want     bool
	}{
		{40000, 6653, true}, {6653, 40000, false},
		{40000, 6633, true}, {6633, 40000, false},
		{6654, 40000, true}, {40000, 6654, false},
	} {
		if got := fromSwitch(tc.src, tc.dst); got != tc.want {
			t.Errorf("fromSwitch(%d, %d) = %v, want %v", tc.src, tc.dst, got, tc.want)
		}
	}
}

// The same conversation in every supported file and link-layer format.
func TestFormats(t *testing.T) {
	m1, m2 := ofMsg(0, 1, 8), ofMsg(6, 2, 32)
	conv := func(client, server string) []pkt {
		return append(handshake(client, server, 10, 20),
			pkt{src: client, dst: server, seq: 11, payload: m1[:4]}, // short: padded Ethernet frame
			pkt{src: client, dst: server, seq: 15, payload: cat(m1[4:], m2)},
		)
	}
	v4 := conv("127.0.0.1:40000", "127.0.0.1:6653")
	v6 := conv("[::1]:40000", "[::1]:6653")
	for _, tc := range []struct {
		name string
		f    pcapFormat
		pkts []pkt
	}{
		{"ethernet-le-usec", pcapFormat{}, v4},
		{"ethernet-padded", pcapFormat{pad: true, link: linkEthernet}, v4},
		{"ethernet-be-nsec", pcapFormat{order: binary.BigEndian, nano: true}, v4},
		{"ethernet-ipv6", pcapFormat{}, v6},
		{"null-le", pcapFormat{link: linkNullExplicit}, v4},
		{"null-be", pcapFormat{link: linkNullExplicit, order: binary.BigEndian}, v4},
		{"null-ipv6", pcapFormat{link: linkNullExplicit}, v6},
		{"loop", pcapFormat{link: linkLoop}, v4},
		{"sll", pcapFormat{link: linkSLL}, v4},
		{"sll-ipv6", pcapFormat{link: linkSLL, order: binary.BigEndian}, v6},
		{"sll2", pcapFormat{link: linkSLL2}, v4},
		{"raw", pcapFormat{link: linkRaw}, v4},
		{"ipv6", pcapFormat{link: linkIPv6}, v6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := read(t, buildPcap(tc.f, tc.pkts...))
			wantMessages(t, c.Messages, m1, m2)
			if !c.Messages[1].FromSwitch || c.Messages[1].Src.Port() != 40000 {
				t.Errorf("second message from %v, FromSwitch %v", c.Messages[1].Src, c.Messages[1].FromSwitch)
			}
			if tc.f.nano {
				if ns := c.Messages[1].Time.Nanosecond(); ns != 4000 {
					t.Errorf("nanoseconds %d, want 4000", ns)
				}
			} else if ns := c.Messages[1].Time.Nanosecond(); ns != 4000000 {
				t.Errorf("nanoseconds %d, want 4000000", ns)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	good := buildPcap(pcapFormat{}, append(handshake(swAddr, ctlAddr, 0, 0),
		pkt{src: swAddr, dst: ctlAddr, seq: 1, payload: ofMsg(0, 1, 8)})...)
	unsupported := bytes.Clone(good)
	binary.LittleEndian.PutUint32(unsupported[20:24], 105) // 802.11
	pcapng := []byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1c, 0, 0, 0}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"empty", "", "empty input"},
		{"short", "\xd4\xc3\xb2", "file header"},
		{"pcapng", string(pcapng), "pcapng"},
		{"text", "hello, this is not a pcap file", "not a classic pcap file"},
		{"linktype", string(unsupported), "unsupported pcap link type 105"},
	} {
		_, err := Read(strings.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}

	// A file cut short keeps the messages read before the cut.
	msgs, err := Read(bytes.NewReader(good[:len(good)-3]))
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(msgs) != 0 {
		t.Errorf("truncated: %d messages, error %v", len(msgs), err)
	}
	twice := append(bytes.Clone(good), good[24:]...)
	msgs, err = Read(bytes.NewReader(twice[:len(twice)-10]))
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(msgs) != 1 {
		t.Errorf("truncated after one message: %d messages, error %v", len(msgs), err)
	}
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint32(huge[24+8:], 1<<30)
	if _, err := Read(bytes.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "implausible") {
		t.Errorf("huge record: error %v", err)
	}

	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

func TestDistinct(t *testing.T) {
	var msgs []Message
	add := func(b []byte) {
		msgs = append(msgs, Message{Index: len(msgs), Bytes: b})
	}
	mp := func(typ uint8, mpType uint16, length int, xid uint32) []byte {
		b := ofMsg(typ, xid, length)
		binary.BigEndian.PutUint16(b[8:10], mpType)
		return b
	}
	exp := func(id, et uint32, length int, xid uint32) []byte {
		b := ofMsg(4, xid, length)
		binary.BigEndian.PutUint32(b[8:12], id)
		binary.BigEndian.PutUint32(b[12:16], et)
		return b
	}
	for _, n := range []int{40, 8, 400, 100, 8, 9000} { // PACKET_IN: 0..5, 1 and 4 identical
		add(ofMsg(10, uint32(n), n))
	}
	add(mp(19, 12, 5000, 1))           // 6: too long
	add(mp(19, 13, 64, 1))             // 7
	add(mp(19, 1, 64, 1))              // 8
	add(exp(0x4f4e4600, 2300, 24, 1))  // 9
	add(exp(0x4f4e4600, 2301, 120, 1)) // 10
	add(exp(0x2320, 2301, 24, 1))      // 11
	add(ofMsg(10, 5, 30))              // 12

	idx := func(ms []Message) []int {
		var out []int
		for _, m := range ms {
			out = append(out, m.Index)
		}
		return out
	}
	if got := fmt.Sprint(idx(Distinct(msgs, 2, 4096))); got != "[1 2 7 8 9 10 11]" {
		t.Errorf("Distinct(2, 4096) = %v", got)
	}
	if got := fmt.Sprint(idx(Distinct(msgs, 3, 4096))); got != "[1 2 7 8 9 10 11 12]" {
		t.Errorf("Distinct(3, 4096) = %v", got)
	}
	if got := fmt.Sprint(idx(Distinct(msgs, 2, 0))); got != "[1 5 6 7 8 9 10 11]" {
		t.Errorf("Distinct(2, no limit) = %v", got)
	}
	if got := fmt.Sprint(idx(Distinct(msgs, 1, 4096))); got != "[1 7 8 9 10 11]" {
		t.Errorf("Distinct(1, 4096) = %v", got)
	}
	if got := Distinct(msgs, 0, 4096); got != nil {
		t.Errorf("Distinct(0, 4096) = %v", got)
	}
}

func TestWriteCorpus(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	inputs := [][]byte{nil, {0, 1, 2, 0xff, '"', '\\', '\n'}, []byte("é€"), ofMsg(0, 1, 8), ofMsg(0, 1, 8)}
	if err := WriteCorpus(dir, inputs); err != nil {
		t.Fatal(err)
	}
	checkCorpus(t, dir, inputs)
	data, err := os.ReadFile(filepath.Join(dir, CorpusFileName(inputs[1])))
	if err != nil {
		t.Fatal(err)
	}
	if want := "go test fuzz v1\n[]byte(\"\\x00\\x01\\x02\\xff\\\"\\\\\\n\")\n"; string(data) != want {
		t.Errorf("corpus file %q, want %q", data, want)
	}
	if name := CorpusFileName(nil); name != "e3b0c44298fc1c14" { // sha256("")
		t.Errorf("CorpusFileName(nil) = %s", name)
	}
}

// The capture is part of the repository: found from any working
// directory, and read through its gzip.
func TestCapturePathIsCommitted(t *testing.T) {
	t.Chdir(t.TempDir())
	msgs, err := ReadFile(CapturePath())
	if err != nil {
		t.Fatalf("the committed capture: %v", err)
	}
	if len(msgs) != sharedMessages {
		t.Fatalf("%d messages read from %s, want %d", len(msgs), CapturePath(), sharedMessages)
	}
}

func FuzzRead(f *testing.F) {
	a, b := ofMsg(0, 1, 8), ofMsg(10, 2, 40)
	f.Add(buildPcap(pcapFormat{}, append(handshake(swAddr, ctlAddr, 1, 2),
		pkt{src: swAddr, dst: ctlAddr, seq: 2, payload: cat(a, b[:20])},
		pkt{src: swAddr, dst: ctlAddr, seq: 30, payload: b[20:]})...))
	f.Add(buildPcap(pcapFormat{link: linkSLL, order: binary.BigEndian, nano: true},
		pkt{src: "[::1]:6654", dst: "[::1]:5", seq: 9, payload: cat(a, a)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := ReadCapture(bytes.NewReader(data))
		if c == nil {
			return
		}
		for i, m := range c.Messages {
			if len(m.Bytes) < 8 || int(m.Length()) != len(m.Bytes) || m.Index != i {
				t.Fatalf("bad message %d: % x", i, m.Bytes)
			}
		}
	})
}
