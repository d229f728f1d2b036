package l2

import (
	"encoding/binary"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

const tpid8021Q = 0x8100

// frameVLAN returns the VLAN of an 802.1Q-tagged frame.
func frameVLAN(f []byte) (vid uint16, tagged bool) {
	if len(f) < 18 || binary.BigEndian.Uint16(f[12:]) != tpid8021Q {
		return 0, false
	}
	return binary.BigEndian.Uint16(f[14:]) & 0xfff, true
}

// untag returns f without its outer 802.1Q tag (f itself when untagged).
func untag(f []byte) []byte {
	if _, tagged := frameVLAN(f); !tagged {
		return f
	}
	out := make([]byte, 0, len(f)-4)
	return append(append(out, f[:12]...), f[16:]...)
}

// withTag returns f carrying vid as its outer tag, as frames of a network
// do inside the pipeline (the default segment's carry none).
func withTag(f []byte, vid uint16) []byte {
	if _, tagged := frameVLAN(f); tagged || vid == network.DefaultSegment || len(f) < 14 {
		return f
	}
	out := make([]byte, 0, len(f)+4)
	out = append(out, f[:12]...)
	out = binary.BigEndian.AppendUint16(out, tpid8021Q)
	out = binary.BigEndian.AppendUint16(out, vid)
	return append(out, f[12:]...)
}

// isTagged reports whether egress keeps the tag (no pop_vlan).
func isTagged(egress []flow.Action) bool {
	for _, a := range egress {
		if a == flow.PopVLAN() {
			return false
		}
	}
	return true
}
