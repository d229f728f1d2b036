package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt maps the file and follows the page ids in its header without
// checking them against the file's size: a truncated file (or a header
// that lies) faults inside bbolt, which kills the process. checkFile reads
// what bbolt will rely on before it maps the file, the way bbolt reads it,
// and refuses the file with the reason instead.
//
// The layout (go.etcd.io/bbolt internal/common, native byte order):
//
//	page header  id u64 | flags u16 | count u16 | overflow u32       (16 bytes)
//	meta         magic u32 | version u32 | page size u32 | flags u32 |
//	             root page u64 | sequence u64 | freelist page u64 |
//	             high-water page id u64 | txid u64 | checksum u64     (64 bytes)
//
// The checksum is FNV-1a 64 over the meta's first 56 bytes. Pages 0 and 1
// are the two meta pages; bbolt uses the valid one with the higher txid.

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	metaSize         = 64
	metaSumLen       = 56
	flagBranch       = 0x01
	flagLeaf         = 0x02
	flagFreelist     = 0x10
	noFreelist       = ^uint64(0)
	minPageSize      = 1024
	maxPageSize      = 1 << 24 // the largest bbolt looks for its second meta page at
	firstMetaReadLen = 0x1000  // bbolt reads page 0 only if this much is there
)

// ErrCorrupt is wrapped by every refusal of a damaged or truncated file.
var ErrCorrupt = errors.New("database file is damaged")

// FileError names the file and what is wrong with it.
type FileError struct {
	Path   string
	Reason string // "is truncated: 20000 bytes, its header says 8388608"
}

func (e *FileError) Error() string {
	return fmt.Sprintf("database %s %s; restore it from a backup or move it away", e.Path, e.Reason)
}

func (e *FileError) Unwrap() error { return ErrCorrupt }

type boltMeta struct {
	magic, version, pageSize   uint32
	root, freelist, pgid, txid uint64
	sumOK                      bool
	readable                   bool // the page was there to read
}

// parseMeta reads the meta in a page's first bytes; a short page reads as
// zeros past its end and is not readable.
func parseMeta(page []byte) boltMeta {
	readable := len(page) >= pageHeaderSize+metaSize
	if !readable {
		page = append(page[:len(page):len(page)], make([]byte, pageHeaderSize+metaSize-len(page))...)
	}
	b := page[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	h := fnv.New64a()
	h.Write(b[:metaSumLen])
	return boltMeta{
		magic:    ne.Uint32(b[0:]),
		version:  ne.Uint32(b[4:]),
		pageSize: ne.Uint32(b[8:]),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
		sumOK:    ne.Uint64(b[56:]) == h.Sum64(),
		readable: readable,
	}
}

// problem is why bbolt's Validate would refuse m, "" when it would not.
func (m boltMeta) problem() string {
	switch {
	case !m.readable:
		return "missing"
	case m.magic != boltMagic:
		return "no bbolt marker"
	case m.version != boltVersion:
		return fmt.Sprintf("bbolt format version %d, this loomd reads %d", m.version, boltVersion)
	case !m.sumOK:
		return "bad checksum"
	}
	return ""
}

// readAt reads up to n bytes at off; fewer at the end of the file.
func readAt(f *os.File, off int64, n int) ([]byte, error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}

// checkFile refuses a file bbolt would fault on. A new (empty) file passes.
// The caller holds the file's lock, so no writer changes it meanwhile.
func checkFile(f *os.File) (reason string, err error) {
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	if size == 0 {
		return "", nil // bbolt initialises it
	}

	// The page size, found as bbolt finds it: from page 0 if that is a
	// valid meta page (bbolt reads it only if 4 KiB are there), else from
	// the first valid meta page at 1 KiB, 2 KiB, ... 16 MiB.
	var pageSize int64
	found := false
	first, err := readAt(f, 0, firstMetaReadLen)
	if err != nil {
		return "", err
	}
	head := parseMeta(first)
	if len(first) == firstMetaReadLen && head.problem() == "" {
		pageSize, found = int64(head.pageSize), true
	} else {
		for i := 0; i <= 14; i++ {
			pos := int64(minPageSize) << i
			if pos >= size-minPageSize {
				break
			}
			b, err := readAt(f, pos, firstMetaReadLen)
			if err != nil {
				return "", err
			}
			if m := parseMeta(b); m.problem() == "" {
				pageSize, found = int64(m.pageSize), true
				break
			}
		}
	}
	if !found { // no valid meta page anywhere bbolt would look
		switch {
		case head.magic != boltMagic:
			return fmt.Sprintf("is not a Loom database: no bbolt header in its %d bytes", size), nil
		case head.problem() == "":
			return fmt.Sprintf("is truncated: %d bytes, less than its two header pages (%d bytes)", size, 2*int64(head.pageSize)), nil
		case !head.readable:
			return fmt.Sprintf("is truncated: %d bytes, less than its two header pages", size), nil
		default:
			return fmt.Sprintf("has no valid header page (page 0: %s; no valid second header page)", head.problem()), nil
		}
	}
	if pageSize < minPageSize || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Sprintf("is damaged: its header gives a page size of %d bytes", pageSize), nil
	}
	if size < 2*pageSize {
		return fmt.Sprintf("is truncated: %d bytes, less than its two header pages (%d bytes)", size, 2*pageSize), nil
	}

	// The two meta pages at that page size, as bbolt's mmap sees them.
	b0, err := readAt(f, 0, pageHeaderSize+metaSize)
	if err != nil {
		return "", err
	}
	b1, err := readAt(f, pageSize, pageHeaderSize+metaSize)
	if err != nil {
		return "", err
	}
	metas := [2]boltMeta{parseMeta(b0), parseMeta(b1)}
	p0, p1 := metas[0].problem(), metas[1].problem()
	if p0 != "" && p1 != "" {
		return fmt.Sprintf("has no valid header page (page 0: %s; page 1: %s)", p0, p1), nil
	}
	// bbolt's DB.meta(): the valid one with the higher txid.
	use := 0
	if metas[1].txid > metas[0].txid {
		use = 1
	}
	if metas[use].problem() != "" {
		use = 1 - use
	}
	m := metas[use]
	if int64(m.pageSize) != pageSize {
		return fmt.Sprintf("is damaged: its header pages disagree on the page size (%d and %d bytes)", pageSize, m.pageSize), nil
	}
	pages := uint64(size / pageSize)
	if m.pgid > pages {
		claimed := fmt.Sprintf("%d pages of %d bytes", m.pgid, pageSize)
		if m.pgid <= uint64(1<<62)/uint64(pageSize) {
			claimed = fmt.Sprint(m.pgid * uint64(pageSize))
		}
		return fmt.Sprintf("is truncated: %d bytes, its header says %s", size, claimed), nil
	}
	if m.pgid < 4 { // two meta pages, a freelist and a root leaf at the least
		return fmt.Sprintf("is damaged: header page %d says the file holds %d pages", use, m.pgid), nil
	}
	if m.root < 2 || m.root >= m.pgid {
		return fmt.Sprintf("is damaged: header page %d points its root at page %d, outside pages 2..%d", use, m.root, m.pgid-1), nil
	}
	if why, err := checkPage(f, m, pageSize, m.root, "root", flagBranch, flagLeaf); err != nil || why != "" {
		return why, err
	}
	if m.freelist == noFreelist {
		return "", nil // bbolt rebuilds it by walking the tree
	}
	if m.freelist < 2 || m.freelist >= m.pgid {
		return fmt.Sprintf("is damaged: header page %d points its freelist at page %d, outside pages 2..%d", use, m.freelist, m.pgid-1), nil
	}
	if why, err := checkPage(f, m, pageSize, m.freelist, "freelist", flagFreelist); err != nil || why != "" {
		return why, err
	}
	return checkFreelist(f, m, pageSize)
}

// checkPage checks that page id has one of the flags and that its overflow
// pages lie below the high-water mark.
func checkPage(f *os.File, m boltMeta, pageSize int64, id uint64, what string, flags ...uint16) (string, error) {
	h, err := readAt(f, int64(id)*pageSize, pageHeaderSize)
	if err != nil {
		return "", err
	}
	if len(h) < pageHeaderSize {
		return fmt.Sprintf("is truncated: its %s page %d is past the end", what, id), nil
	}
	ne := binary.NativeEndian
	fl, overflow := ne.Uint16(h[8:]), uint64(ne.Uint32(h[12:]))
	ok := false
	for _, want := range flags {
		ok = ok || fl == want
	}
	if !ok {
		return fmt.Sprintf("is damaged: its %s page %d has page type %#02x", what, id, fl), nil
	}
	if id+overflow >= m.pgid {
		return fmt.Sprintf("is damaged: its %s page %d runs %d pages past the high-water mark %d", what, id, id+overflow+1-m.pgid, m.pgid), nil
	}
	return "", nil
}

// checkFreelist checks the freelist's element count fits in its pages and
// that every free page id is a data page below the high-water mark.
func checkFreelist(f *os.File, m boltMeta, pageSize int64) (string, error) {
	ne := binary.NativeEndian
	h, err := readAt(f, int64(m.freelist)*pageSize, pageHeaderSize+8)
	if err != nil {
		return "", err
	}
	if len(h) < pageHeaderSize+8 {
		return fmt.Sprintf("is truncated: its freelist page %d is past the end", m.freelist), nil
	}
	span := (uint64(ne.Uint32(h[12:])) + 1) * uint64(pageSize)
	count, start := uint64(ne.Uint16(h[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF { // the real count is in the first element
		count, start = ne.Uint64(h[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (span-start)/8 {
		return fmt.Sprintf("is damaged: its freelist page %d lists %d pages, more than fit in it", m.freelist, count), nil
	}
	ids, err := readAt(f, int64(m.freelist)*pageSize+int64(start), int(count*8))
	if err != nil {
		return "", err
	}
	if uint64(len(ids)) < count*8 {
		return fmt.Sprintf("is truncated: its freelist page %d is cut short", m.freelist), nil
	}
	for i := uint64(0); i < count; i++ {
		if id := ne.Uint64(ids[i*8:]); id < 2 || id >= m.pgid {
			return fmt.Sprintf("is damaged: its freelist lists page %d, outside pages 2..%d", id, m.pgid-1), nil
		}
	}
	return "", nil
}
