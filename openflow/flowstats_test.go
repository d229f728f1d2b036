package openflow

import (
	"encoding/binary"
	"strings"
	"testing"
)

// checkFlowStatsReader holds the streaming reader to ParseFlowStats: the
// same verdict on every body, and the same flows when both accept.
func checkFlowStatsReader(t *testing.T, b []byte, stats []FlowStats, parseErr error) {
	t.Helper()
	r := ReadFlowStats(b)
	n := 0
	var oxms []OXM
	for r.Next() {
		e := r.Entry()
		fs, err := e.FlowStats()
		if err != nil {
			t.Fatalf("reader accepted the entry at %d, which does not decode: %v", r.Offset(), err)
		}
		oxms = e.AppendMatch(oxms[:0])
		if len(oxms) != len(fs.Match) {
			t.Fatalf("AppendMatch gave %d fields, ParseOXMs %d", len(oxms), len(fs.Match))
		}
		if parseErr == nil {
			if n >= len(stats) {
				t.Fatalf("reader found more than ParseFlowStats's %d flows", len(stats))
			}
			w := stats[n]
			if w.TableID != fs.TableID || w.Priority != fs.Priority || w.Cookie != fs.Cookie || w.Packets != fs.Packets ||
				w.Bytes != fs.Bytes || w.Flags != fs.Flags || w.IdleTimeout != fs.IdleTimeout || w.HardTimeout != fs.HardTimeout ||
				w.DurationSec != fs.DurationSec || w.DurationNSec != fs.DurationNSec ||
				string(w.RawInstructions) != string(fs.RawInstructions) || len(w.Match) != len(fs.Match) {
				t.Fatalf("flow %d: reader %+v, ParseFlowStats %+v", n, fs, w)
			}
		}
		n++
	}
	if (r.Err() == nil) != (parseErr == nil) {
		t.Fatalf("reader says %v, ParseFlowStats %v", r.Err(), parseErr)
	}
	if parseErr == nil && n != len(stats) {
		t.Fatalf("reader found %d flows, ParseFlowStats %d", n, len(stats))
	}
	if err := ValidateFlowStats(b); (err == nil) != (parseErr == nil) {
		t.Fatalf("ValidateFlowStats says %v, ParseFlowStats %v", err, parseErr)
	}
}

func twoFlowBody() []byte {
	b := AppendFlowStats(nil, FlowStats{TableID: 1, Priority: 100, Cookie: 0x4c4d000000000001,
		Match:        []OXM{BasicOXM(OXMEthDst, []byte{2, 0, 0, 0, 0, 1})},
		Instructions: []Instruction{ApplyActions(Output(1))}})
	return AppendFlowStats(b, FlowStats{TableID: 2, Priority: 7, Cookie: 9,
		Instructions: []Instruction{GotoTable(3)}})
}

func TestFlowStatsReaderWalksEntries(t *testing.T) {
	b := twoFlowBody()
	r := ReadFlowStats(b)
	var got []FlowStatsEntry
	for r.Next() {
		got = append(got, *r.Entry())
	}
	if r.Err() != nil || len(got) != 2 {
		t.Fatalf("%d entries, err %v", len(got), r.Err())
	}
	if got[0].TableID != 1 || got[0].Priority != 100 || got[0].Cookie != 0x4c4d000000000001 || got[1].TableID != 2 || got[1].Cookie != 9 {
		t.Fatalf("entries %+v", got)
	}
	m := got[0].AppendMatch(nil)
	if len(m) != 1 || m[0].Field != OXMEthDst || string(m[0].Value) != string([]byte{2, 0, 0, 0, 0, 1}) {
		t.Fatalf("match %+v", m)
	}
	if len(got[1].MatchOXMs) != 0 || len(got[1].RawInstructions) != 8 {
		t.Fatalf("second entry: match %x, instructions %x", got[1].MatchOXMs, got[1].RawInstructions)
	}
	stats, err := ParseFlowStats(b)
	checkFlowStatsReader(t, b, stats, err)
}

func TestFlowStatsReaderRefusesBadEntries(t *testing.T) {
	good := twoFlowBody()
	first := int(binary.BigEndian.Uint16(good))
	cases := map[string]func([]byte) []byte{
		"truncated fixed part": func(b []byte) []byte { return b[:first+40] },
		"truncated entry":      func(b []byte) []byte { return b[:len(b)-8] },
		"length past the end": func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[first:], uint16(len(b)-first+8))
			return b
		},
		"length below the minimum": func(b []byte) []byte { binary.BigEndian.PutUint16(b, 40); return b },
		"zero length":              func(b []byte) []byte { binary.BigEndian.PutUint16(b, 0); return b },
		"match past the entry": func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[48+2:], uint16(first))
			return b
		},
		"match type not OXM": func(b []byte) []byte { b[48+1] = 0; return b },
		"oxm overlong": func(b []byte) []byte {
			b[48+4+3] = 200 // eth_dst payload length
			return b
		},
		"instruction overlong": func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[first-24+2:], 64)
			return b
		},
		"instruction length not a multiple of 8": func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[first-24+2:], 20)
			return b
		},
		"output action short": func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[first-16+2:], 8)
			return b
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := mutate(append([]byte(nil), good...))
			r := ReadFlowStats(b)
			n := 0
			for r.Next() {
				n++
			}
			if r.Err() == nil || !strings.Contains(r.Err().Error(), "flow stats at offset") {
				t.Fatalf("walked %d entries of a bad body without error (%v)", n, r.Err())
			}
			if r.Next() {
				t.Fatal("Next went on after an error")
			}
			if _, err := ParseFlowStats(b); err == nil {
				t.Fatal("ParseFlowStats accepted it")
			}
			if ValidateFlowStats(b) == nil {
				t.Fatal("ValidateFlowStats accepted it")
			}
		})
	}
}

func TestFlowStatsReaderAllocatesNothing(t *testing.T) {
	var b []byte
	for i := 0; i < 100; i++ {
		b = append(b, twoFlowBody()...)
	}
	oxms := make([]OXM, 0, 8)
	allocs := testing.AllocsPerRun(10, func() {
		r := ReadFlowStats(b)
		for r.Next() {
			oxms = r.Entry().AppendMatch(oxms[:0])
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
	})
	if allocs != 0 {
		t.Fatalf("%.0f allocations walking 200 flows, want 0", allocs)
	}
}

// BenchmarkDecodeFlowStatsPart decodes one FLOW multipart reply part of
// 744 flows (65,480 bytes, as OVS splits a dump), which the read
// goroutine checks entry by entry as it arrives.
//
//	go test -run '^$' -bench DecodeFlowStatsPart -benchmem ./openflow
func BenchmarkDecodeFlowStatsPart(b *testing.B) {
	ins := AppendInstructions(nil, []Instruction{ApplyActions(Output(1))})
	msg := []byte{Version, TypeMultipartReply, 0, 0, 0, 0, 0, 1, 0, byte(MultipartFlow), 0, 1, 0, 0, 0, 0}
	for i := 0; len(msg)+88 <= 65535; i++ {
		msg = AppendFlowStats(msg, FlowStats{TableID: 1, Priority: 100, Cookie: 0x4c4d010000000000 | uint64(i),
			Match: []OXM{BasicOXM(OXMEthDst, []byte{2, 0xe, 0, 0, byte(i >> 8), byte(i)})}, RawInstructions: ins})
	}
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}
