package openflow

import (
	"bytes"
	"encoding/binary"
	"flag"
	"path/filepath"
	"testing"

	"github.com/loomsdn/loom/internal/ofpcap"
)

// The capture of real OVS 3.1 traffic committed in internal/ofpcap/testdata:
// these tests decode bytes no code of ours produced.
func capture(t testing.TB) []ofpcap.Message {
	t.Helper()
	msgs, err := ofpcap.ReadFile(ofpcap.CapturePath())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestDecodeEverythingOVSSends(t *testing.T) {
	counts := map[string]int{}
	for _, m := range capture(t) {
		if !m.FromSwitch {
			continue
		}
		msg, err := Decode(m.Bytes)
		if err != nil {
			t.Fatalf("frame %d (%s): %v", m.Frame, TypeName(m.Type()), err)
		}
		switch v := msg.(type) {
		case *FeaturesReply:
			if v.DPID != 0xc1 {
				t.Errorf("features reply dpid 0x%x, want 0xc1", v.DPID)
			}
		case *PacketIn:
			if v.InPort == PortAny || v.InPort == 0 || len(v.Data) < 14 {
				t.Errorf("packet-in frame %d: in_port %d, %d data bytes", m.Frame, v.InPort, len(v.Data))
			}
		case *MultipartReply:
			if v.MPType == MultipartFlow {
				fs, err := ParseFlowStats(v.Body)
				if err != nil || len(fs) == 0 {
					t.Errorf("flow stats frame %d: %d flows, %v", m.Frame, len(fs), err)
				}
			}
		case *ErrorMsg:
			if len(v.Data) < HeaderLen {
				t.Errorf("error frame %d carries no offending message", m.Frame)
			}
		}
		counts[TypeName(m.Type())]++
	}
	for _, typ := range []string{"HELLO", "FEATURES_REPLY", "PACKET_IN", "ERROR", "BARRIER_REPLY", "MULTIPART_REPLY", "EXPERIMENTER"} {
		if counts[typ] == 0 {
			t.Errorf("decoded no %s from the capture: %v", typ, counts)
		}
	}
}

// flowModsIn returns every FLOW_MOD the capture holds, including those
// wrapped in ONF bundle-add messages.
func flowModsIn(msgs []ofpcap.Message) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		b := m.Bytes
		if m.Type() == TypeExperimenter && len(b) >= 24+HeaderLen &&
			binary.BigEndian.Uint32(b[8:]) == ONFExperimenterID && binary.BigEndian.Uint32(b[12:]) == 2301 {
			b = b[24:]
		}
		if b[1] == TypeFlowMod && len(b) >= 56 {
			out = append(out, b)
		}
	}
	return out
}

// Every match and instruction list ovs-ofctl sent (IPv4 fields, ct(),
// VLAN push/pop, groups) parses, and re-encodes to the same bytes.
func TestFlowModsRoundTrip(t *testing.T) {
	fms := flowModsIn(capture(t))
	if len(fms) < 50 {
		t.Fatalf("found %d flow-mods in the capture, want the 50+ bundled ones", len(fms))
	}
	for i, b := range fms {
		oxmBytes, padded, err := splitMatch(b[48:])
		if err != nil {
			t.Fatalf("flow-mod %d: %v", i, err)
		}
		oxms, err := ParseOXMs(oxmBytes)
		if err != nil {
			t.Fatalf("flow-mod %d match: %v", i, err)
		}
		if got := appendMatch(nil, oxms); !bytes.Equal(got, b[48:48+padded]) {
			t.Fatalf("flow-mod %d: match re-encodes to\n%x, was\n%x", i, got, b[48:48+padded])
		}
		ins, err := ParseInstructions(b[48+padded:])
		if err != nil {
			t.Fatalf("flow-mod %d instructions: %v", i, err)
		}
		if got := appendInstructions(nil, ins); !bytes.Equal(got, b[48+padded:]) {
			t.Fatalf("flow-mod %d: instructions re-encode to\n%x, was\n%x", i, got, b[48+padded:])
		}
	}
}

var writeCorpus = flag.Bool("write-corpus", false, "rewrite testdata/fuzz seed corpora from the committed OVS capture")

// TestWriteSeedCorpus regenerates the committed seed corpora (run with
// -write-corpus); without the flag it checks they exist.
func TestWriteSeedCorpus(t *testing.T) {
	targets := []string{"FuzzDecode", "FuzzParseOXMs", "FuzzParseInstructions", "FuzzParseFlowStats", "FuzzParsePortDescs", "FuzzFramer"}
	if !*writeCorpus {
		for _, name := range targets {
			if files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*")); len(files) == 0 {
				t.Errorf("no committed seed corpus for %s (go test -run TestWriteSeedCorpus -write-corpus)", name)
			}
		}
		return
	}
	msgs := capture(t)
	var all, matches, instrs, flowBodies, portBodies, stream [][]byte
	for _, m := range ofpcap.Distinct(msgs, 3, 8192) {
		all = append(all, m.Bytes)
	}
	for _, b := range flowModsIn(msgs)[:12] {
		oxmBytes, padded, _ := splitMatch(b[48:])
		matches = append(matches, oxmBytes)
		instrs = append(instrs, b[48+padded:])
	}
	for _, m := range msgs {
		if m.Type() == TypeMultipartReply && len(m.Bytes) <= 8192 {
			switch binary.BigEndian.Uint16(m.Bytes[8:]) {
			case MultipartFlow:
				flowBodies = append(flowBodies, m.Bytes[16:])
			case MultipartPortDesc:
				portBodies = append(portBodies, m.Bytes[16:])
			}
		}
	}
	for _, m := range msgs[:20] {
		if m.FromSwitch {
			stream = append(stream, m.Bytes)
		}
	}
	for name, inputs := range map[string][][]byte{"FuzzDecode": all, "FuzzParseOXMs": matches,
		"FuzzParseInstructions": instrs, "FuzzParseFlowStats": flowBodies, "FuzzParsePortDescs": portBodies[:2],
		"FuzzFramer": {bytes.Join(stream, nil)}} {
		if err := ofpcap.WriteCorpus(filepath.Join("testdata", "fuzz", name), inputs); err != nil {
			t.Fatal(err)
		}
	}
}
