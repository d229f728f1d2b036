// Package eventlog is a log of recent items, each with a revision, read by
// any number of cursors: the shape every watch in Loom needs (the
// topology's events, the API's encoded form of them). Writers append
// whole revisions in order; readers take the log's lock only for a
// moment and never block a writer or each other for longer. A reader
// that stops reading holds nothing but its position, and copies what it
// reads a bounded batch at a time, so it keeps no old part of the log
// alive.
package eventlog

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// ErrRevisionGone means a reader asked to start after a revision whose
// successors are no longer kept; it must list again and watch from there.
var ErrRevisionGone = errors.New("revision no longer available")

// ErrFellBehind means a cursor's next item was dropped from the log
// before it was read; the reader resumes from the last revision it saw
// (or lists again if that is gone too).
var ErrFellBehind = errors.New("fell behind the event log")

// ReadBatch is the most items one Read returns.
const ReadBatch = 64

// Log keeps between keep and twice keep of the newest items.
type Log[T any] struct {
	revOf   func(T) uint64
	mu      sync.RWMutex
	entries []T
	// base is the sequence number of entries[0]: every item ever appended
	// has one, and a cursor is a sequence number.
	base uint64
	keep int
	// last is the newest revision appended (or reset to).
	last uint64
	// grown is closed, and replaced, whenever items are appended: the
	// broadcast readers wait on.
	grown chan struct{}
	// behind counts reads that found their items already dropped.
	behind atomic.Uint64
}

// New returns an empty log at revision 0 keeping about keep items;
// revOf tells an item's revision.
func New[T any](keep int, revOf func(T) uint64) *Log[T] {
	return &Log[T]{revOf: revOf, keep: keep, grown: make(chan struct{})}
}

// Append adds items in revision order (none older than the last) and wakes every waiting reader. A revision may
// come in several appends if nothing of a later one comes between. Once
// the log holds twice keep items it is cut to about keep at a revision
// boundary (one copy per keep items, not one per append), always keeping
// the newest revision whole, so a reader resuming from a kept revision
// never misses part of the next.
func (l *Log[T]) Append(items ...T) {
	if len(items) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, items...)
	rev := l.revOf(items[len(items)-1])
	l.last = max(l.last, rev)
	if len(l.entries) > 2*l.keep {
		cut := len(l.entries) - l.keep
		for cut < len(l.entries) && l.revOf(l.entries[cut]) == l.revOf(l.entries[cut-1]) {
			cut++
		}
		if cut == len(l.entries) { // one revision larger than keep: keep it
			cut = len(l.entries) - 1
			for cut > 0 && l.revOf(l.entries[cut-1]) == rev {
				cut--
			}
		}
		l.entries = append(make([]T, 0, 2*l.keep+len(items)), l.entries[cut:]...)
		l.base += uint64(cut)
	}
	close(l.grown)
	l.grown = make(chan struct{})
}

// Reset empties the log and goes on from revision rev. Every cursor made
// before fails with ErrFellBehind: what it missed is not in the log.
func (l *Log[T]) Reset(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base += uint64(len(l.entries)) + 1 // the gap makes every older cursor behind
	l.entries, l.last = nil, rev
	close(l.grown)
	l.grown = make(chan struct{})
}

// Last is the newest revision.
func (l *Log[T]) Last() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.last
}

// Behind counts reads that found their items already dropped (a metric).
func (l *Log[T]) Behind() uint64 { return l.behind.Load() }

// end is the sequence number the next item will get; l.mu held.
func (l *Log[T]) end() uint64 { return l.base + uint64(len(l.entries)) }

// oldest is the first revision the log can still hand out whole; l.mu held.
func (l *Log[T]) oldest() uint64 {
	if len(l.entries) == 0 {
		return l.last + 1
	}
	return l.revOf(l.entries[0])
}

// Oldest is the revision a cursor starts after to read every item the
// log still keeps.
func (l *Log[T]) Oldest() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.oldest() - 1
}

// Cursor returns a reader of the items after revision from (from now on
// for 0). A from older than the log keeps is ErrRevisionGone; one ahead
// of the newest revision is an error too.
func (l *Log[T]) Cursor(from uint64) (*Cursor[T], error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if from > l.last {
		return nil, fmt.Errorf("revision %d is ahead of the current revision %d", from, l.last)
	}
	if from == 0 || from == l.last {
		return &Cursor[T]{log: l, next: l.end()}, nil
	}
	if from+1 < l.oldest() {
		return nil, fmt.Errorf("%w: %d (oldest kept: %d)", ErrRevisionGone, from, l.oldest())
	}
	i := sort.Search(len(l.entries), func(i int) bool { return l.revOf(l.entries[i]) > from })
	return &Cursor[T]{log: l, next: l.base + uint64(i)}, nil
}

// Follow returns a reader of the items from now on.
func (l *Log[T]) Follow() *Cursor[T] {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return &Cursor[T]{log: l, next: l.end()}
}

// FollowAt returns a reader of the items from now on and the revision it
// starts after, read together: nothing between the two is missed.
func (l *Log[T]) FollowAt() (*Cursor[T], uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return &Cursor[T]{log: l, next: l.end()}, l.last
}

// Cursor reads a log's items in order. One goroutine owns a cursor.
type Cursor[T any] struct {
	log  *Log[T]
	next uint64 // the sequence number of the next item to read
	buf  []T
}

// Ready is closed when Read has something to return (items or an
// error); select on it beside a context.
func (c *Cursor[T]) Ready() <-chan struct{} {
	c.log.mu.RLock()
	defer c.log.mu.RUnlock()
	if c.next < c.log.end() {
		return closedChan
	}
	return c.log.grown
}

var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Read returns the next items not yet read, oldest first, at most
// ReadBatch of them, without waiting (none when there is nothing new).
// The slice is the cursor's own and is reused by the next Read.
// ErrFellBehind means items were dropped before this cursor read them.
func (c *Cursor[T]) Read() ([]T, error) {
	c.log.mu.RLock()
	defer c.log.mu.RUnlock()
	l := c.log
	if c.next < l.base {
		l.behind.Add(1)
		return nil, fmt.Errorf("%w: %d items dropped unread", ErrFellBehind, l.base-c.next)
	}
	from := int(c.next - l.base)
	n := min(len(l.entries)-from, ReadBatch)
	c.buf = append(c.buf[:0], l.entries[from:from+n]...)
	c.next += uint64(n)
	return c.buf, nil
}
