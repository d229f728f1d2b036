package ofpcap

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The expectations below were taken from tshark 4.x
// (tshark -r ovs-3.1-of13.pcap -d tcp.port==6654,openflow -Y openflow_v4 -T pdml,
// counting top-level openflow_v4 layers only, not messages echoed inside
// errors or bundles), which agrees message for message (frame, ports,
// type, length, xid) with ReadCapture on this file.

const (
	sharedRecords  = 618
	sharedMessages = 267
)

// sharedCapture reads the OVS capture committed in testdata/.
func sharedCapture(t *testing.T) *Capture {
	t.Helper()
	path := CapturePath()
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := ReadCapture(f)
	if err != nil {
		t.Fatalf("ReadCapture(%s): %v", path, err)
	}
	return c
}

// serverPort returns the well-known port of the connection a message was
// sent on.
func serverPort(m *Message) uint16 {
	if isOpenFlowPort(m.DstPort) {
		return m.DstPort
	}
	return m.SrcPort
}

func kindName(b []byte) string {
	k := KindOf(b)
	s := fmt.Sprintf("type=%d", k.Type)
	if k.MultipartType >= 0 {
		s += fmt.Sprintf(" mp=%d", k.MultipartType)
	}
	if k.Experimenter >= 0 {
		s += fmt.Sprintf(" exp=%#x/%d", k.Experimenter, k.ExperimenterType)
	}
	return s
}

func countKey(m *Message) string {
	from := "ctl"
	if m.FromSwitch {
		from = "switch"
	}
	return fmt.Sprintf("%d %s %s", serverPort(m), from, kindName(m.Bytes))
}

// Per port (6653: switch↔controller, 6654: ovs-ofctl↔switch), sender and
// kind. "ctl" is the controller on 6653 and ovs-ofctl on 6654.
var wantCounts = map[string]int{
	"6653 switch type=0":  1, // HELLO
	"6653 switch type=6":  1, // FEATURES_REPLY
	"6653 switch type=10": 8, // PACKET_IN
	"6653 ctl type=0":     1, // HELLO
	"6653 ctl type=5":     1, // FEATURES_REQUEST
	"6653 ctl type=9":     1, // SET_CONFIG
	"6653 ctl type=13":    8, // PACKET_OUT
	"6653 ctl type=14":    4, // FLOW_MOD

	"6654 ctl type=0":                     22, // HELLO
	"6654 ctl type=4 exp=0x4f4e4600/2300": 4,  // ONF bundle control (open, commit)
	"6654 ctl type=4 exp=0x4f4e4600/2301": 54, // ONF bundle add
	"6654 ctl type=14":                    2,  // FLOW_MOD
	"6654 ctl type=15":                    1,  // GROUP_MOD
	"6654 ctl type=18 mp=0":               1,  // DESC request
	"6654 ctl type=18 mp=1":               2,  // FLOW request
	"6654 ctl type=18 mp=3":               1,  // TABLE request
	"6654 ctl type=18 mp=4":               1,  // PORT_STATS request
	"6654 ctl type=18 mp=7":               1,  // GROUP_DESC request
	"6654 ctl type=18 mp=12":              5,  // TABLE_FEATURES request
	"6654 ctl type=18 mp=13":              6,  // PORT_DESC request
	"6654 ctl type=20":                    5,  // BARRIER_REQUEST

	"6654 switch type=0":                     22, // HELLO
	"6654 switch type=1":                     3,  // ERROR
	"6654 switch type=4 exp=0x4f4e4600/2300": 3,  // ONF bundle control replies
	"6654 switch type=19 mp=0":               1,
	"6654 switch type=19 mp=1":               2,
	"6654 switch type=19 mp=3":               1,
	"6654 switch type=19 mp=4":               1,
	"6654 switch type=19 mp=7":               1,
	"6654 switch type=19 mp=12":              92, // TABLE_FEATURES replies: 3×20 + 2×16 (captures with losses)
	"6654 switch type=19 mp=13":              6,
	"6654 switch type=21":                    5, // BARRIER_REPLY
}

func TestSharedCaptureCounts(t *testing.T) {
	c := sharedCapture(t)
	if c.Records != sharedRecords {
		t.Errorf("Records = %d, want %d", c.Records, sharedRecords)
	}
	if c.LinkType != linkEthernet {
		t.Errorf("LinkType = %d, want %d", c.LinkType, linkEthernet)
	}
	if len(c.Messages) != sharedMessages {
		t.Errorf("got %d messages, want %d", len(c.Messages), sharedMessages)
	}
	got := map[string]int{}
	for i := range c.Messages {
		got[countKey(&c.Messages[i])]++
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range wantCounts {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != wantCounts[k] {
			t.Errorf("%s: got %d messages, want %d", k, got[k], wantCounts[k])
		}
	}
}

func TestSharedCaptureMessages(t *testing.T) {
	c := sharedCapture(t)
	prevFrame := 0
	for i, m := range c.Messages {
		if m.Index != i {
			t.Fatalf("message %d has Index %d", i, m.Index)
		}
		if m.Frame < prevFrame || m.Frame < 1 || m.Frame > c.Records {
			t.Fatalf("message %d: Frame %d after %d", i, m.Frame, prevFrame)
		}
		prevFrame = m.Frame
		if len(m.Bytes) < 8 || int(m.Length()) != len(m.Bytes) {
			t.Fatalf("message %d: %d bytes, header length %d", i, len(m.Bytes), m.Length())
		}
		if m.Version() != 4 {
			t.Errorf("message %d: version %d, want 4 (OpenFlow 1.3)", i, m.Version())
		}
		if m.Src.Port() != m.SrcPort || m.Dst.Port() != m.DstPort {
			t.Errorf("message %d: ports %d→%d, endpoints %v→%v", i, m.SrcPort, m.DstPort, m.Src, m.Dst)
		}
		switch {
		case m.DstPort == PortController:
			if !m.FromSwitch {
				t.Errorf("message %d to the controller port not FromSwitch", i)
			}
		case m.SrcPort == PortController:
			if m.FromSwitch {
				t.Errorf("message %d from the controller port is FromSwitch", i)
			}
		case m.SrcPort == PortSwitchListener:
			if !m.FromSwitch {
				t.Errorf("message %d from the switch listener not FromSwitch", i)
			}
		case m.DstPort == PortSwitchListener:
			if m.FromSwitch {
				t.Errorf("message %d to the switch listener is FromSwitch", i)
			}
		default:
			t.Errorf("message %d on unexpected ports %d→%d", i, m.SrcPort, m.DstPort)
		}
	}
	if c.Messages[0].Time.IsZero() || c.Messages[len(c.Messages)-1].Time.Before(c.Messages[0].Time) {
		t.Errorf("bad timestamps %v .. %v", c.Messages[0].Time, c.Messages[len(c.Messages)-1].Time)
	}

	// ReadFile agrees.
	msgs, err := ReadFile(CapturePath())
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(c.Messages) {
		t.Fatalf("ReadFile: %d messages, ReadCapture: %d", len(msgs), len(c.Messages))
	}
}

// The kernel dropped packets of two TABLE_FEATURES replies; tshark stops
// those streams at the hole too.
func TestSharedCaptureLosses(t *testing.T) {
	c := sharedCapture(t)
	want := []Loss{
		{Stream: "127.0.0.1:6654->127.0.0.1:36652", Offset: 1019904, Missing: 222976, Discarded: 11472},
		{Stream: "127.0.0.1:6654->127.0.0.1:36698", Offset: 1016016, Missing: 66560, Discarded: 167888},
	}
	if fmt.Sprint(c.Losses) != fmt.Sprint(want) {
		t.Errorf("Losses = %+v\nwant %+v", c.Losses, want)
	}
}

func TestSharedFeaturesReply(t *testing.T) {
	c := sharedCapture(t)
	var n int
	for _, m := range c.Messages {
		if m.Type() != 6 {
			continue
		}
		n++
		if !m.FromSwitch || m.DstPort != PortController || m.SrcPort == PortController {
			t.Errorf("FEATURES_REPLY %d→%d FromSwitch=%v", m.SrcPort, m.DstPort, m.FromSwitch)
		}
		if len(m.Bytes) != 32 {
			t.Fatalf("FEATURES_REPLY is %d bytes, want 32", len(m.Bytes))
		}
		if dpid := binary.BigEndian.Uint64(m.Bytes[8:16]); dpid != 0xc1 {
			t.Errorf("datapath id %#016x, want 0x00000000000000c1", dpid)
		}
	}
	if n != 1 {
		t.Errorf("%d FEATURES_REPLY messages, want 1", n)
	}
}

func TestSharedHellos(t *testing.T) {
	c := sharedCapture(t)
	got := map[string]int{}
	for _, m := range c.Messages {
		if m.Type() == 0 {
			got[fmt.Sprintf("%d %v", serverPort(&m), m.FromSwitch)]++
		}
	}
	want := map[string]int{"6653 true": 1, "6653 false": 1, "6654 true": 22, "6654 false": 22}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("HELLOs per port and FromSwitch: %v, want %v", got, want)
	}
}

func TestSharedTableFeatures(t *testing.T) {
	c := sharedCapture(t)
	lossy := map[string]bool{}
	for _, l := range c.Losses {
		lossy[l.Stream] = true
	}
	type seqKey struct {
		stream string
		xid    uint32
	}
	seqs := map[seqKey][]Message{}
	var order []seqKey
	for _, m := range c.Messages {
		if m.Type() != 19 || binary.BigEndian.Uint16(m.Bytes[8:10]) != 12 {
			continue
		}
		if !m.FromSwitch || m.SrcPort != PortSwitchListener {
			t.Errorf("TABLE_FEATURES reply %d→%d FromSwitch=%v", m.SrcPort, m.DstPort, m.FromSwitch)
		}
		k := seqKey{m.Src.String() + "->" + m.Dst.String(), m.Xid()}
		if _, ok := seqs[k]; !ok {
			order = append(order, k)
		}
		seqs[k] = append(seqs[k], m)
	}
	var complete, truncated []int
	for _, k := range order {
		s := seqs[k]
		for i, m := range s {
			more := binary.BigEndian.Uint16(m.Bytes[10:12])&1 != 0
			last := i == len(s)-1
			if !last && !more {
				t.Errorf("%v: reply %d of %d lacks OFPMPF_REPLY_MORE", k, i+1, len(s))
			}
			if last && more && !lossy[k.stream] {
				t.Errorf("%v: last reply (%d) has OFPMPF_REPLY_MORE but the stream lost no data", k, len(s))
			}
			if last && !more {
				complete = append(complete, len(s))
			}
			if last && more {
				truncated = append(truncated, len(s))
			}
		}
	}
	if fmt.Sprint(complete) != "[20 20 20]" || fmt.Sprint(truncated) != "[16 16]" {
		t.Errorf("complete sequences %v, truncated %v; want [20 20 20] and [16 16]", complete, truncated)
	}
}

func TestSharedBundles(t *testing.T) {
	c := sharedCapture(t)
	const onf = 0x4f4e4600
	adds := map[string]int{} // per connection and bundle id
	ctrl := map[string]int{} // per sender and control type
	for _, m := range c.Messages {
		if m.Type() != 4 {
			continue
		}
		b := m.Bytes
		if exp := binary.BigEndian.Uint32(b[8:12]); exp != onf {
			t.Errorf("experimenter %#x, want %#x", exp, onf)
			continue
		}
		bundleID := binary.BigEndian.Uint32(b[16:20])
		switch et := binary.BigEndian.Uint32(b[12:16]); et {
		case 2301: // ONFT_BUNDLE_ADD_MESSAGE: header, exp, type, bundle_id, pad, flags, message
			if m.FromSwitch {
				t.Errorf("bundle add from the switch")
			}
			if len(b) < 24+8 || b[25] != 14 || int(binary.BigEndian.Uint16(b[26:28])) != len(b)-24 {
				t.Errorf("bundle add of %d bytes does not wrap one FLOW_MOD: % x", len(b), b[24:min(len(b), 32)])
			}
			adds[fmt.Sprintf("%d/%d", m.SrcPort, bundleID)]++
		case 2300: // ONFT_BUNDLE_CONTROL: ..., bundle_id, type(2), flags(2)
			ctrl[fmt.Sprintf("%v/%d", m.FromSwitch, binary.BigEndian.Uint16(b[20:22]))]++
		default:
			t.Errorf("unexpected ONF experimenter type %d", et)
		}
	}
	var sizes []int
	for _, n := range adds {
		sizes = append(sizes, n)
	}
	sort.Ints(sizes)
	if fmt.Sprint(sizes) != "[1 53]" {
		t.Errorf("bundle add messages per bundle: %v, want [1 53] (53 bundled add-flows, one rejected bundle)", sizes)
	}
	// Requests: OPEN (0), COMMIT (4) twice; replies: OPEN_REPLY (1) twice,
	// COMMIT_REPLY (5) once — the second commit failed with an error.
	want := map[string]int{"false/0": 2, "false/4": 2, "true/1": 2, "true/5": 1}
	if fmt.Sprint(ctrl) != fmt.Sprint(want) {
		t.Errorf("bundle control messages %v, want %v", ctrl, want)
	}
}

func TestSharedErrors(t *testing.T) {
	c := sharedCapture(t)
	var got []string
	for _, m := range c.Messages {
		if m.Type() != 1 {
			continue
		}
		if !m.FromSwitch || m.SrcPort != PortSwitchListener {
			t.Errorf("ERROR %d→%d FromSwitch=%v", m.SrcPort, m.DstPort, m.FromSwitch)
		}
		b := m.Bytes
		s := fmt.Sprintf("%d/%d", binary.BigEndian.Uint16(b[8:10]), binary.BigEndian.Uint16(b[10:12]))
		if binary.BigEndian.Uint16(b[8:10]) == 0xffff {
			s += fmt.Sprintf(" exp=%#x", binary.BigEndian.Uint32(b[12:16]))
		} else {
			s += " echo:" + kindName(b[12:])
		}
		got = append(got, s)
	}
	want := []string{
		"2/9 echo:type=14",                            // OFPBAC_BAD_OUT_GROUP for a FLOW_MOD
		"2/9 echo:type=4 exp=0x4f4e4600/2301",         // the same inside a bundle
		fmt.Sprintf("65535/2313 exp=%#x", 0x4f4e4600), // ONF bundle error for the commit
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSharedDistinctCorpus(t *testing.T) {
	c := sharedCapture(t)
	const perKind, maxLen = 2, 4096
	sub := Distinct(c.Messages, perKind, maxLen)
	perKindGot := map[Kind]int{}
	for i, m := range sub {
		if len(m.Bytes) > maxLen {
			t.Errorf("picked a %d-byte message", len(m.Bytes))
		}
		if i > 0 && m.Index <= sub[i-1].Index {
			t.Errorf("result not in capture order")
		}
		perKindGot[KindOf(m.Bytes)]++
	}
	// Every kind with a message of at most maxLen bytes is represented.
	for _, m := range c.Messages {
		k := KindOf(m.Bytes)
		if len(m.Bytes) <= maxLen && perKindGot[k] == 0 {
			t.Errorf("kind %+v missing", k)
		}
	}
	for k, n := range perKindGot {
		if n > perKind {
			t.Errorf("kind %+v: %d messages", k, n)
		}
	}
	// 27 kinds in the capture; the TABLE_FEATURES replies (about 64 KiB
	// each) and the one TABLE stats reply (6112 bytes) are all too long.
	if len(perKindGot) != 25 {
		t.Errorf("%d kinds picked, want 25", len(perKindGot))
	}

	dir := filepath.Join(t.TempDir(), "testdata", "fuzz", "FuzzX")
	var inputs [][]byte
	for _, m := range sub {
		inputs = append(inputs, m.Bytes)
	}
	if err := WriteCorpus(dir, inputs); err != nil {
		t.Fatal(err)
	}
	checkCorpus(t, dir, inputs)
}

// checkCorpus checks that dir holds exactly the given inputs in Go's fuzz
// corpus format.
func checkCorpus(t *testing.T, dir string, inputs [][]byte) {
	t.Helper()
	want := map[string]string{}
	for _, in := range inputs {
		want[CorpusFileName(in)] = string(in)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(want) {
		t.Errorf("%d corpus files, want %d", len(ents), len(want))
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rest, ok := strings.CutPrefix(string(data), "go test fuzz v1\n[]byte(")
		lit, ok2 := strings.CutSuffix(rest, ")\n")
		if !ok || !ok2 {
			t.Fatalf("%s: bad corpus file %q", e.Name(), data)
		}
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if w, ok := want[e.Name()]; !ok || w != s {
			t.Errorf("%s: unexpected content %q", e.Name(), s)
		}
		if len(e.Name()) != 16 {
			t.Errorf("file name %q is not 16 hex digits", e.Name())
		}
	}
}
