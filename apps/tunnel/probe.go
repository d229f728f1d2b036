package tunnel

import (
	"bytes"
	"encoding/binary"
	"time"
)

// A probe is an Ethernet frame of the local experimental ethertype sent
// from one hypervisor's bridge through its tunnel port to another's, where
// a flow on the probe VNI hands it to Loom: proof that encapsulation,
// underlay routing and ARP work between the two.
var (
	probeDst   = []byte{0x02, 0x4c, 0x4d, 0x00, 0x00, 0x01}
	probeSrc   = []byte{0x02, 0x4c, 0x4d, 0x00, 0x00, 0x00}
	probeMagic = []byte("LOOMTUN1")
)

const probeEthertype = 0x88b5

func probeFrame(from, to string, now time.Time) []byte {
	b := append(append([]byte(nil), probeDst...), probeSrc...)
	b = binary.BigEndian.AppendUint16(b, probeEthertype)
	b = append(b, probeMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(now.UnixNano()))
	b = append(b, byte(len(from)))
	b = append(b, from...)
	b = append(b, byte(len(to)))
	return append(b, to...)
}

func parseProbe(f []byte) (from, to string, sent time.Time, ok bool) {
	if len(f) < 14+len(probeMagic)+8+2 || binary.BigEndian.Uint16(f[12:]) != probeEthertype || !bytes.Equal(f[14:14+len(probeMagic)], probeMagic) {
		return "", "", time.Time{}, false
	}
	b := f[14+len(probeMagic):]
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(b)))
	b = b[8:]
	n := int(b[0])
	if len(b) < 1+n+1 {
		return "", "", time.Time{}, false
	}
	from, b = string(b[1:1+n]), b[1+n:]
	m := int(b[0])
	if len(b) < 1+m {
		return "", "", time.Time{}, false
	}
	return from, string(b[1 : 1+m]), sent, true
}
