package discovery

import (
	"testing"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestProbeRoundTrip(t *testing.T) {
	f := buildFrame(key, [6]byte{2, 0, 0, 0, 0, 1}, 0xc1, 7, 123456789)
	p, err := parseFrame(f)
	if err != nil || p.DPID != 0xc1 || p.Port != 7 || p.Sent != 123456789 || !p.verify(key) {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	if p.verify([]byte("another key")) {
		t.Fatal("verified under the wrong key")
	}
	// Any claim changed breaks the HMAC.
	forged := p
	forged.Port = 8
	if forged.verify(key) {
		t.Fatal("a forged port verified")
	}
}

func TestParseRejectsBadFrames(t *testing.T) {
	good := buildFrame(key, [6]byte{2}, 0xc1, 7, 1)
	for name, f := range map[string][]byte{
		"short":        good[:10],
		"not lldp":     append(append([]byte{}, good[:12]...), 0x08, 0x00),
		"cut tlv":      good[:20],
		"no end":       good[:len(good)-2],
		"foreign lldp": append(append([]byte{}, good[:14]...), 0x02, 0x07, 0x04, 1, 2, 3, 4, 5, 6, 0, 0),
	} {
		if _, err := parseFrame(f); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add(buildFrame(key, [6]byte{2}, 0xc1, 7, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseFrame(b)
	})
}
