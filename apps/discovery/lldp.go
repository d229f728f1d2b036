package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EtherTypeLLDP is LLDP's ethertype.
const EtherTypeLLDP = 0x88cc

// lldpDst is the nearest-bridge group address: bridges never forward it.
var lldpDst = [6]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}

// Loom's organisationally specific TLV: a locally administered OUI and a
// subtype, then the send time and an HMAC over (dpid, port, time).
var loomOUI = [3]byte{0x02, 0x4c, 0x4d}

const (
	loomSubtype = 1
	macLen      = 16
)

// probe is what one of Loom's LLDP frames says.
type probe struct {
	DPID uint64
	Port uint32
	Sent int64 // unix nanoseconds
	MAC  []byte
}

// sign returns the HMAC of a probe's claims under key.
func sign(key []byte, dpid uint64, port uint32, sent int64) []byte {
	m := hmac.New(sha256.New, key)
	var b [20]byte
	binary.BigEndian.PutUint64(b[0:], dpid)
	binary.BigEndian.PutUint32(b[8:], port)
	binary.BigEndian.PutUint64(b[12:], uint64(sent))
	m.Write(b[:])
	return m.Sum(nil)[:macLen]
}

// Probe builds a probe frame as Loom sends it, signed with key. Tests use
// it, with a key of their own, to forge probes.
func Probe(key []byte, src [6]byte, dpid uint64, port uint32, sent int64) []byte {
	return buildFrame(key, src, dpid, port, sent)
}

// buildFrame returns the LLDP frame Loom sends out of (dpid, port).
func buildFrame(key []byte, src [6]byte, dpid uint64, port uint32, sent int64) []byte {
	f := append(append([]byte{}, lldpDst[:]...), src[:]...)
	f = binary.BigEndian.AppendUint16(f, EtherTypeLLDP)
	tlv := func(typ int, value []byte) {
		f = binary.BigEndian.AppendUint16(f, uint16(typ<<9|len(value)))
		f = append(f, value...)
	}
	tlv(1, append([]byte{7}, fmt.Sprintf("dpid:%016x", dpid)...)) // chassis id, locally assigned
	tlv(2, append([]byte{7}, strconv.FormatUint(uint64(port), 10)...))
	tlv(3, []byte{0, 120}) // TTL
	org := append(append([]byte{}, loomOUI[:]...), loomSubtype)
	org = binary.BigEndian.AppendUint64(org, uint64(sent))
	org = append(org, sign(key, dpid, port, sent)...)
	tlv(127, org)
	tlv(0, nil)
	return f
}

var errNotLoom = errors.New("not one of Loom's LLDP probes")

// parseFrame reads a probe out of an Ethernet frame, checking every
// length. It does not check the HMAC: verify does.
func parseFrame(f []byte) (probe, error) {
	var p probe
	if len(f) < 14 || binary.BigEndian.Uint16(f[12:]) != EtherTypeLLDP {
		return p, errors.New("not an LLDP frame")
	}
	var haveChassis, havePort, haveOrg bool
	for b := f[14:]; ; {
		if len(b) < 2 {
			return p, errors.New("LLDP TLV header cut short")
		}
		h := binary.BigEndian.Uint16(b)
		typ, n := int(h>>9), int(h&0x1ff)
		if len(b) < 2+n {
			return p, fmt.Errorf("LLDP TLV type %d: length %d exceeds the %d bytes left", typ, n, len(b)-2)
		}
		v := b[2 : 2+n]
		b = b[2+n:]
		switch typ {
		case 0:
			if !haveChassis || !havePort || !haveOrg {
				return p, errNotLoom
			}
			return p, nil
		case 1:
			if n < 2 || v[0] != 7 || !strings.HasPrefix(string(v[1:]), "dpid:") {
				return p, errNotLoom
			}
			d, err := strconv.ParseUint(string(v[6:]), 16, 64)
			if err != nil {
				return p, errNotLoom
			}
			p.DPID, haveChassis = d, true
		case 2:
			if n < 2 || v[0] != 7 {
				return p, errNotLoom
			}
			port, err := strconv.ParseUint(string(v[1:]), 10, 32)
			if err != nil {
				return p, errNotLoom
			}
			p.Port, havePort = uint32(port), true
		case 127:
			if n != 4+8+macLen || [3]byte(v[0:3]) != loomOUI || v[3] != loomSubtype {
				continue // someone else's TLV
			}
			p.Sent = int64(binary.BigEndian.Uint64(v[4:]))
			p.MAC = v[12:]
			haveOrg = true
		}
	}
}

// verify checks the probe's HMAC under key.
func (p probe) verify(key []byte) bool {
	return hmac.Equal(p.MAC, sign(key, p.DPID, p.Port, p.Sent))
}
