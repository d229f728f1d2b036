package openflow

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func msgOfLen(typ uint8, n int, xid byte) []byte {
	b := make([]byte, n)
	b[0], b[1], b[2], b[3], b[7] = Version, typ, byte(n>>8), byte(n), xid
	return b
}

func TestFramerSplitsAndJoins(t *testing.T) {
	var stream []byte
	want := [][]byte{msgOfLen(2, 8, 1), msgOfLen(10, 100, 2), msgOfLen(19, 3000, 3), msgOfLen(19, 60000, 5), msgOfLen(3, 9, 4), msgOfLen(19, 20000, 6)}
	for _, m := range want {
		stream = append(stream, m...)
	}
	for name, r := range map[string]io.Reader{
		"all at once":  bytes.NewReader(stream),
		"byte by byte": iotest.OneByteReader(bytes.NewReader(stream)),
		"half reads":   iotest.HalfReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			f := NewFramer(r, MaxMessageLen)
			for i, w := range want {
				got, err := f.Next()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !bytes.Equal(got, w) {
					t.Fatalf("message %d: got %d bytes xid %d, want %d bytes xid %d", i, len(got), got[7], len(w), w[7])
				}
			}
			if _, err := f.Next(); err != io.EOF {
				t.Fatalf("after last message: %v, want io.EOF", err)
			}
		})
	}
}

func TestFramerRejectsBadLengths(t *testing.T) {
	cases := []struct {
		name    string
		stream  []byte
		max     int
		wantErr error
	}{
		{"length 0", msgOfLen(0, 8, 0)[:4:4], MaxMessageLen, ErrBadLength},
		{"length 7", []byte{4, 0, 0, 7, 0, 0, 0, 0}, MaxMessageLen, ErrBadLength},
		{"above limit", msgOfLen(10, 2000, 0), 1024, ErrBadLength},
		{"truncated body", msgOfLen(10, 100, 0)[:50], MaxMessageLen, io.ErrUnexpectedEOF},
		{"truncated large body", msgOfLen(19, 30000, 0)[:20000], MaxMessageLen, io.ErrUnexpectedEOF},
		{"truncated header", []byte{4, 0, 0}, MaxMessageLen, io.ErrUnexpectedEOF},
		{"65535 then EOF", []byte{4, 10, 0xff, 0xff, 0, 0, 0, 1, 1, 2, 3}, MaxMessageLen, io.ErrUnexpectedEOF},
	}
	cases[0].stream = []byte{4, 0, 0, 0, 0, 0, 0, 0}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewFramer(bytes.NewReader(c.stream), c.max).Next()
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("got %v, want %v", err, c.wantErr)
			}
		})
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte{4, 0, 0, 8, 0, 0, 0, 1, 4, 2, 0, 9, 0, 0, 0, 2, 7})
	f.Add([]byte{4, 0, 0, 0})
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := NewFramer(bytes.NewReader(stream), MaxMessageLen)
		total := 0
		for {
			m, err := fr.Next()
			if err != nil {
				break
			}
			if len(m) < HeaderLen || int(ParseHeader(m).Length) != len(m) {
				t.Fatalf("framer returned a %d-byte message declaring %d", len(m), ParseHeader(m).Length)
			}
			total += len(m)
		}
		if total > len(stream) {
			t.Fatalf("framer returned %d bytes from a %d-byte stream", total, len(stream))
		}
	})
}
