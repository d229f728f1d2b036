package eventlog

import (
	"errors"
	"testing"
	"time"
)

// item is a test item: its revision and its place in that revision.
type item struct{ rev, n uint64 }

func newLog(keep int) *Log[item] { return New(keep, func(i item) uint64 { return i.rev }) }

// appendRev appends revision rev with n items.
func appendRev(l *Log[item], rev uint64, n int) {
	items := make([]item, n)
	for i := range items {
		items[i] = item{rev, uint64(i)}
	}
	l.Append(items...)
}

func readAll(t *testing.T, c *Cursor[item]) []item {
	t.Helper()
	var all []item
	for {
		items, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			return all
		}
		if len(items) > ReadBatch {
			t.Fatalf("one read returned %d items, more than %d", len(items), ReadBatch)
		}
		all = append(all, items...)
	}
}

// The log is cut only at revision boundaries, and one revision larger
// than the log is kept whole: a reader never sees part of a revision.
func TestLogKeepsWholeRevisions(t *testing.T) {
	l := newLog(7)
	cur := l.Follow()
	appendRev(l, 1, 20) // larger than twice keep
	if n := len(readAll(t, cur)); n != 20 {
		t.Fatalf("read %d items of a 20-item revision", n)
	}
	for rev := uint64(2); rev <= 9; rev++ {
		appendRev(l, rev, 3)
	}
	l.mu.RLock()
	kept := append([]item(nil), l.entries...)
	l.mu.RUnlock()
	perRev := map[uint64]int{}
	for _, e := range kept {
		perRev[e.rev]++
	}
	for rev, n := range perRev {
		if n != 3 {
			t.Fatalf("revision %d kept with %d of its 3 items (%d kept)", rev, n, len(kept))
		}
	}
	if len(kept) > 2*7+3 {
		t.Fatalf("%d items kept, want at most about twice keep", len(kept))
	}
}

// A reader more than the log behind is told so on every read, counted,
// and never handed part of the history.
func TestCursorBehindTheLogFails(t *testing.T) {
	l := newLog(5)
	cur := l.Follow()
	for rev := uint64(1); rev <= 20; rev++ {
		appendRev(l, rev, 1)
	}
	for i := 0; i < 2; i++ {
		if _, err := cur.Read(); !errors.Is(err, ErrFellBehind) {
			t.Fatalf("read %d: got %v, want ErrFellBehind", i, err)
		}
	}
	if l.Behind() != 2 {
		t.Fatalf("Behind %d, want 2", l.Behind())
	}
}

// Resuming: from a kept revision, the items after it, none repeated; from
// a dropped one, ErrRevisionGone; from the future, an error.
func TestCursorResumes(t *testing.T) {
	l := newLog(5)
	for rev := uint64(1); rev <= 20; rev++ {
		appendRev(l, rev, 1)
	}
	cur, err := l.Cursor(17)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, cur); len(got) != 3 || got[0].rev != 18 || got[2].rev != 20 {
		t.Fatalf("resumed from 17: %v, want revisions 18..20", got)
	}
	if _, err := l.Cursor(1); !errors.Is(err, ErrRevisionGone) {
		t.Fatalf("from a dropped revision: %v, want ErrRevisionGone", err)
	}
	if _, err := l.Cursor(21); err == nil {
		t.Fatal("a cursor from a future revision was made")
	}
	if now, err := l.Cursor(20); err != nil || len(readAll(t, now)) != 0 {
		t.Fatalf("from the newest revision: replayed, or %v", err)
	}
}

// Reset starts over: every older cursor is behind, even one that had
// read everything (what it would miss is not in the log).
func TestResetLeavesOlderCursorsBehind(t *testing.T) {
	l := newLog(5)
	appendRev(l, 1, 2)
	cur := l.Follow()
	l.Reset(100)
	appendRev(l, 101, 1)
	if _, err := cur.Read(); !errors.Is(err, ErrFellBehind) {
		t.Fatalf("after a reset: %v, want ErrFellBehind", err)
	}
	fresh, err := l.Cursor(100)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, fresh); len(got) != 1 || got[0].rev != 101 {
		t.Fatalf("after the reset: %v", got)
	}
}

// Ready wakes a waiting reader when items land, and is not ready before.
func TestReadyWakesAWaitingReader(t *testing.T) {
	l := newLog(5)
	cur := l.Follow()
	select {
	case <-cur.Ready():
		t.Fatal("ready with nothing appended")
	default:
	}
	got := make(chan int)
	go func() {
		<-cur.Ready()
		items, _ := cur.Read()
		got <- len(items)
	}()
	appendRev(l, 1, 2)
	select {
	case n := <-got:
		if n != 2 {
			t.Fatalf("woke with %d items, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reader never woke")
	}
}

// What a reader got is its own: later appends and cuts do not change it.
func TestReadIsACopy(t *testing.T) {
	l := newLog(2)
	cur := l.Follow()
	appendRev(l, 1, 1)
	got, _ := cur.Read()
	first := got[0]
	for rev := uint64(2); rev <= 10; rev++ {
		appendRev(l, rev, 1)
	}
	if got[0] != first {
		t.Fatalf("a read item changed under the reader: %v, was %v", got[0], first)
	}
}
