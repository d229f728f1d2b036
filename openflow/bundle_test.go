package openflow

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Loom's bundle messages are byte-identical to the ones ovs-ofctl sent OVS
// in the committed OVS capture (internal/ofpcap/testdata).
func TestBundleMessagesMatchOVSCapture(t *testing.T) {
	adds, controls := 0, 0
	for _, m := range capture(t) {
		b := m.Bytes
		if m.FromSwitch || m.Type() != TypeExperimenter || binary.BigEndian.Uint32(b[8:]) != ONFExperimenterID {
			continue
		}
		xid := m.Xid()
		switch binary.BigEndian.Uint32(b[12:]) {
		case expTypeBundleAdd:
			inner := b[24:]
			if ParseHeader(inner).Xid != xid {
				t.Fatalf("ovs-ofctl's inner xid %d differs from outer %d", ParseHeader(inner).Xid, xid)
			}
			got := Encode(BundleAdd{BundleID: binary.BigEndian.Uint32(b[16:]), Flags: binary.BigEndian.Uint16(b[22:]),
				Msg: Raw{Type: inner[1], Body: inner[8:]}}, xid)
			if !bytes.Equal(got, b) {
				t.Fatalf("bundle add:\n got %x\nwant %x", got, b)
			}
			adds++
		case expTypeBundleControl:
			got := Encode(BundleControl{BundleID: binary.BigEndian.Uint32(b[16:]), Type: binary.BigEndian.Uint16(b[20:]),
				Flags: binary.BigEndian.Uint16(b[22:])}, xid)
			if !bytes.Equal(got, b[:len(got)]) || len(b) != len(got) {
				t.Fatalf("bundle control:\n got %x\nwant %x", got, b)
			}
			controls++
		}
	}
	if adds < 50 || controls < 4 {
		t.Fatalf("compared %d bundle adds and %d controls, want the capture's 54 and 4", adds, controls)
	}
}
