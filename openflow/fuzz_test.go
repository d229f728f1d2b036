package openflow

import (
	"strings"
	"testing"
)

// The decoders' own recover() is a safety net, not a licence: a fuzz input
// that trips it is a bug in a length check, so the fuzz tests fail on it.
func noRecoveredPanic(t *testing.T, err error) {
	if err != nil && strings.Contains(err.Error(), "decoder panic") {
		t.Fatalf("a decoder panicked: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := Decode(b)
		noRecoveredPanic(t, err)
		if err == nil && msg.Hdr().Length != uint16(len(b)) {
			t.Fatalf("decoded header length %d for %d bytes", msg.Hdr().Length, len(b))
		}
	})
}

func FuzzParseOXMs(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 4, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		oxms, err := ParseOXMs(b)
		if err != nil {
			return
		}
		// What parses re-encodes to the same bytes.
		var out []byte
		for _, o := range oxms {
			out = appendOXM(out, o)
		}
		if string(out) != string(b) {
			t.Fatalf("re-encoded %x, was %x", out, b)
		}
	})
}

func FuzzParseInstructions(f *testing.F) {
	f.Add([]byte{0, 1, 0, 8, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ins, err := ParseInstructions(b)
		if cerr := checkInstructions(b); (cerr == nil) != (err == nil) {
			t.Fatalf("checkInstructions says %v, ParseInstructions %v", cerr, err)
		}
		if err != nil {
			return
		}
		again, err := ParseInstructions(appendInstructions(nil, ins))
		if err != nil || len(again) != len(ins) {
			t.Fatalf("re-encoded instructions do not parse back: %v (%d vs %d)", err, len(again), len(ins))
		}
	})
}

func FuzzParseFlowStats(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		stats, err := ParseFlowStats(b)
		checkFlowStatsReader(t, b, stats, err)
	})
}

func FuzzParsePortDescs(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		ports, err := ParsePortDescs(b)
		if err == nil && len(ports)*portLen != len(b) {
			t.Fatalf("%d ports from %d bytes", len(ports), len(b))
		}
	})
}
