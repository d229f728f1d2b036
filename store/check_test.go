package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openChild is the child half of the damaged-file tests: it opens path,
// reads everything and writes once (so bbolt's freelist and allocator
// run), and prints "refused\t<error>" or "opened\t<declarations>". A fault
// inside bbolt kills it with a non-zero status.
func openChild(path string) int {
	s, err := Open(path)
	if err != nil {
		fmt.Printf("refused\t%v\n", err)
		return 0
	}
	defer s.Close()
	n := 0
	if err := s.LoadDesired(func(DesiredChange) error { n++; return nil }); err != nil {
		fmt.Printf("unreadable\t%v\n", err)
		return 0
	}
	if _, err := s.LoadTopology(); err != nil {
		fmt.Printf("unreadable\t%v\n", err)
		return 0
	}
	if err := s.SaveDesired([]DesiredChange{{DPID: 99, App: "check", Key: "after", Flows: []string{strings.Repeat("y", 5000)}}}); err != nil {
		fmt.Printf("unwritable\t%v\n", err)
		return 0
	}
	fmt.Printf("opened\t%d\n", n)
	return 0
}

// openInChild runs Open on path in a child process and returns what it
// printed: ("refused", message) or ("opened", count). A crash fails the
// test (it does not kill it).
func openInChild(t *testing.T, path string) (outcome, detail string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// The race detector sleeps a second at exit unless told not to.
	cmd.Env = append(os.Environ(), "LOOM_STORE_OPEN_CHILD="+path, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := stderr.String()
		if i := strings.Index(msg, "\ngoroutine "); i > 0 {
			msg = msg[:i] // the fault, not every stack
		}
		t.Errorf("Open crashed on %s (%v):\n%s", filepath.Base(path), err, msg)
		return "crashed", msg
	}
	outcome, detail, _ = strings.Cut(strings.TrimSpace(stdout.String()), "\t")
	return outcome, detail
}

// testDB is a real Loom database with data, its bytes, and what bbolt's
// header says about it.
type testDB struct {
	data     []byte
	pageSize int64
	hwm      int64 // the high-water mark in bytes: page id * page size
	records  int
}

var (
	builtOnce sync.Once
	built     testDB
	buildErr  error
)

// buildDB returns a database of a few MiB written over many transactions,
// with deletions so that the freelist is not empty, like a loomd that has
// run. It is built once per test binary.
func buildDB(t *testing.T) testDB {
	t.Helper()
	builtOnce.Do(func() {
		built, buildErr = writeTestDB(filepath.Join(os.TempDir(), fmt.Sprintf("loom-check-%d.db", os.Getpid())))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func writeTestDB(p string) (db testDB, err error) {
	defer os.Remove(p)
	s, err := Open(p)
	if err != nil {
		return db, err
	}
	flow := strings.Repeat("table=4, priority=100,dl_dst=02:00:00:00:00:01 actions=output:3 ", 8)
	const txns, per, deleted = 12, 100, 20
	for txn := 0; txn < txns; txn++ {
		var batch []DesiredChange
		for i := 0; i < per; i++ {
			batch = append(batch, DesiredChange{DPID: uint64(1 + txn%4), App: "l2", Key: fmt.Sprintf("mac/%d/%d", txn, i), Flows: []string{flow, flow, flow, flow}})
		}
		for i := 0; i < deleted && txn > 0; i++ {
			batch = append(batch, DesiredChange{DPID: uint64(1 + (txn-1)%4), App: "l2", Key: fmt.Sprintf("mac/%d/%d", txn-1, i), Delete: true})
		}
		if err := s.SaveDesired(batch); err != nil {
			s.Close()
			return db, err
		}
	}
	if err := s.SaveTopology(bytes.Repeat([]byte(`{"switches":[]}`), 1000)); err != nil {
		s.Close()
		return db, err
	}
	s.Close()

	db.records = txns*per - (txns-1)*deleted
	b, err := bolt.Open(p, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return db, err
	}
	db.pageSize = int64(b.Info().PageSize)
	b.View(func(tx *bolt.Tx) error { db.hwm = tx.Size(); return nil })
	b.Close()
	if db.data, err = os.ReadFile(p); err != nil {
		return db, err
	}
	if db.hwm < 1<<20 || int64(len(db.data)) < db.hwm {
		return db, fmt.Errorf("test database: %d bytes, high-water mark %d", len(db.data), db.hwm)
	}
	return db, nil
}

func writeDB(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "loom.db")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTruncatedFileIsRefused cuts a real database short at page boundaries
// and mid-page: every cut below the header's high-water mark is refused
// with one line naming the file, never a crash, and the file is left as
// it was. Cuts past the mark (bbolt's preallocated tail) lose nothing.
func TestTruncatedFileIsRefused(t *testing.T) {
	db := buildDB(t)
	ps := db.pageSize
	cuts := []int64{1, 15, 79, 100, 1000, ps - 1, ps, ps + 1, 2*ps - 1, 2 * ps, 2*ps + 1, 3 * ps, 3*ps + 100,
		20000, 32768, 32769, 65536, 1 << 20, db.hwm / 2, db.hwm/2 + 123, db.hwm - ps, db.hwm - ps/2, db.hwm - 1}
	for _, cut := range cuts {
		p := writeDB(t, db.data[:cut])
		outcome, msg := openInChild(t, p)
		if outcome == "crashed" {
			continue
		}
		if outcome != "refused" {
			t.Errorf("cut to %d bytes: %s %s, want refused", cut, outcome, msg)
			continue
		}
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "database "+p+" ") || !strings.Contains(msg, "restore it from a backup or move it away") {
			t.Errorf("cut to %d bytes: message %q does not name the file in one line", cut, msg)
		}
		if cut >= 100 && !strings.Contains(msg, fmt.Sprintf("is truncated: %d bytes", cut)) {
			t.Errorf("cut to %d bytes: message %q does not say it is truncated", cut, msg)
		}
		if st, err := os.Stat(p); err != nil || st.Size() != cut {
			t.Errorf("cut to %d bytes: the refused file changed (%v, %v)", cut, st.Size(), err)
		}
	}

	// The case, word for word.
	p := writeDB(t, db.data[:20000])
	if _, msg := openInChild(t, p); msg != fmt.Sprintf("database %s is truncated: 20000 bytes, its header says %d; restore it from a backup or move it away", p, db.hwm) {
		t.Errorf("cut to 20000 bytes: %q", msg)
	}
	// In-process too: the error is a *FileError wrapping ErrCorrupt.
	var fe *FileError
	if _, err := Open(p); !errors.Is(err, ErrCorrupt) || !errors.As(err, &fe) || fe.Path != p {
		t.Errorf("Open returned %v, want a *FileError wrapping ErrCorrupt", err)
	}

	for _, cut := range []int64{db.hwm, db.hwm + ps/2, int64(len(db.data))} {
		if cut > int64(len(db.data)) {
			continue
		}
		outcome, n := openInChild(t, writeDB(t, db.data[:cut]))
		if outcome != "opened" || n != strconv.Itoa(db.records) {
			t.Errorf("cut to %d bytes (at or past the high-water mark %d): %s %s, want opened %d", cut, db.hwm, outcome, n, db.records)
		}
	}
}

// Meta field offsets within a page (after the 16-byte page header).
const (
	offMagic    = 16 + 0
	offVersion  = 16 + 4
	offPageSize = 16 + 8
	offRoot     = 16 + 16
	offFreelist = 16 + 32
	offPgid     = 16 + 40
	offTxid     = 16 + 48
	offChecksum = 16 + 56
)

func metaU64(data []byte, page, pageSize int64, off int) uint64 {
	return binary.NativeEndian.Uint64(data[page*pageSize+int64(off):])
}

// setMeta changes one field of meta page `page` and, with resum, gives it a
// valid checksum again: a header that lies rather than a torn one.
func setMeta(data []byte, page, pageSize int64, off int, v uint64, size int, resum bool) {
	b := data[page*pageSize:]
	switch size {
	case 4:
		binary.NativeEndian.PutUint32(b[off:], uint32(v))
	case 8:
		binary.NativeEndian.PutUint64(b[off:], v)
	}
	if resum {
		h := fnv.New64a()
		h.Write(b[offMagic:offChecksum])
		binary.NativeEndian.PutUint64(b[offChecksum:], h.Sum64())
	}
}

// TestDamagedHeaderIsRefused damages the meta pages and the freelist in
// ways that crash bbolt or would have it write over live pages: each is
// refused with one line, never a crash.
func TestDamagedHeaderIsRefused(t *testing.T) {
	db := buildDB(t)
	ps := db.pageSize
	newer := int64(0)
	if metaU64(db.data, 1, ps, offTxid) > metaU64(db.data, 0, ps, offTxid) {
		newer = 1
	}
	hwmPages := uint64(db.hwm / ps)
	freelist := int64(metaU64(db.data, newer, ps, offFreelist))
	both := func(off int, v uint64, size int, resum bool) func([]byte) {
		return func(d []byte) {
			setMeta(d, 0, ps, off, v, size, resum)
			setMeta(d, 1, ps, off, v, size, resum)
		}
	}
	cases := []struct {
		name   string
		damage func([]byte)
		want   string
	}{
		{"both checksums wrong", both(offTxid, 12345, 8, false), "has no valid header page (page 0: bad checksum;"},
		{"both markers gone", both(offMagic, 0, 4, false), "is not a Loom database"},
		{"a newer bbolt format", both(offVersion, 3, 4, true), "bbolt format version 3"},
		{"high-water mark past the end", both(offPgid, 1<<40, 8, true), "is truncated: "},
		{"high-water mark overflowing", both(offPgid, 1<<62, 8, true), "is truncated: "},
		{"high-water mark too small", both(offPgid, 3, 8, true), "is damaged: header page"},
		{"root past the high-water mark", both(offRoot, hwmPages+5, 8, true), "points its root at page"},
		{"root on a meta page", both(offRoot, 1, 8, true), "points its root at page 1"},
		{"freelist past the high-water mark", both(offFreelist, hwmPages+5, 8, true), "points its freelist at page"},
		{"page size not a power of two", both(offPageSize, 3000, 4, true), "page size"},
		{"page size zero", both(offPageSize, 0, 4, true), "a page size of 0 bytes"},
		{"freelist page overwritten", func(d []byte) {
			copy(d[freelist*ps:], bytes.Repeat([]byte{0xff}, 64))
		}, "its freelist page"},
		{"freelist count past its pages", func(d []byte) {
			binary.NativeEndian.PutUint16(d[freelist*ps+10:], 0xFFFF)
			binary.NativeEndian.PutUint64(d[freelist*ps+16:], 1<<40)
		}, "more than fit in it"},
		{"freelist listing a page past the end", func(d []byte) {
			binary.NativeEndian.PutUint16(d[freelist*ps+10:], 1)
			binary.NativeEndian.PutUint64(d[freelist*ps+16:], 1<<40)
		}, "its freelist lists page 1099511627776"},
		{"freelist listing a meta page", func(d []byte) {
			binary.NativeEndian.PutUint16(d[freelist*ps+10:], 1)
			binary.NativeEndian.PutUint64(d[freelist*ps+16:], 0)
		}, "its freelist lists page 0"},
		{"freelist running past the high-water mark", func(d []byte) {
			binary.NativeEndian.PutUint32(d[freelist*ps+12:], uint32(hwmPages))
		}, "past the high-water mark"},
	}
	for _, c := range cases {
		data := bytes.Clone(db.data)
		c.damage(data)
		p := writeDB(t, data)
		outcome, msg := openInChild(t, p)
		if outcome == "crashed" {
			continue
		}
		if outcome != "refused" || !strings.HasPrefix(msg, "database "+p+" ") || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %s %q, want refused with %q", c.name, outcome, msg, c.want)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
			t.Errorf("%s: the refused file was changed", c.name)
		}
	}
}

// TestOneDamagedHeaderFallsBack: bbolt keeps two meta pages so that a
// torn write of one leaves the other. A file with one damaged meta page
// opens from the other (at worst one transaction older), as bbolt means it
// to; the check does not refuse it.
func TestOneDamagedHeaderFallsBack(t *testing.T) {
	db := buildDB(t)
	for page := int64(0); page < 2; page++ {
		data := bytes.Clone(db.data)
		data[page*db.pageSize+offTxid] ^= 0xff
		outcome, n := openInChild(t, writeDB(t, data))
		if outcome != "opened" || n == "0" {
			t.Errorf("meta page %d damaged: %s %s, want opened from the other", page, outcome, n)
		}
	}
}

func TestLockedFileIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "is locked") {
		t.Fatalf("second Open: %v, want locked", err)
	}
}
