package topology

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// recentEvents is how many past events the log keeps: how far a reader
// may fall behind, and how far back a watcher can resume.
const recentEvents = 10000

// ErrRevisionGone means a watcher asked to resume from a revision whose
// events are no longer kept; it must list again and watch from there.
var ErrRevisionGone = errors.New("revision no longer available")

// ErrFellBehind means a cursor's next event was dropped from the log
// before it was read; the reader resumes from the last revision it saw
// (or lists again if that is gone too).
var ErrFellBehind = errors.New("fell behind the event log")

// eventLog is the model's recent events in order, shared by every reader.
// Commits append under the model's lock (so events stay in revision
// order); readers take only the log's own lock, for a moment, and never
// the model's: thousands of watchers cost a commit nothing, and a reader
// that stops reading holds nothing but its position. Readers copy what
// they read, a bounded batch at a time, so no reader keeps an old part of
// the log alive.
type eventLog struct {
	mu     sync.RWMutex
	events []Event
	// base is the sequence number of events[0]: every event ever appended
	// has one, and a cursor is a sequence number.
	base uint64
	keep int
	// last is the newest revision appended (or restored).
	last uint64
	// grown is closed, and replaced, whenever events are appended: the
	// broadcast readers wait on.
	grown chan struct{}
	// behind counts reads that found their events already dropped.
	behind atomic.Uint64
}

// readBatch is the most events one Read returns.
const readBatch = 64

func newEventLog(keep int) *eventLog {
	return &eventLog{keep: keep, grown: make(chan struct{})}
}

// append adds one revision's events (all of the same revision) and wakes
// every waiting reader. The log may hold up to twice keep events; then it
// is cut to about keep at a revision boundary (one copy per keep events,
// not one per commit), always keeping the newest revision whole, so a
// watcher resuming from a kept revision never misses part of the next.
func (l *eventLog) append(rev uint64, events []Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, events...)
	l.last = rev
	if len(l.events) > 2*l.keep {
		cut := len(l.events) - l.keep
		for cut < len(l.events) && l.events[cut].Revision == l.events[cut-1].Revision {
			cut++
		}
		if cut == len(l.events) { // one revision larger than keep: keep it
			cut = len(l.events) - len(events)
		}
		l.events = append(make([]Event, 0, 2*l.keep+len(events)), l.events[cut:]...)
		l.base += uint64(cut)
	}
	close(l.grown)
	l.grown = make(chan struct{})
}

// reset starts the log over at rev (a restored model): nothing to replay.
func (l *eventLog) reset(rev uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.base += uint64(len(l.events))
	l.events, l.last = nil, rev
	close(l.grown)
	l.grown = make(chan struct{})
}

// end is the sequence number the next event will get; l.mu held.
func (l *eventLog) end() uint64 { return l.base + uint64(len(l.events)) }

// oldest is the first revision the log can still hand out whole; l.mu held.
func (l *eventLog) oldest() uint64 {
	if len(l.events) == 0 {
		return l.last + 1
	}
	return l.events[0].Revision
}

// cursor returns a reader of the events after revision from (from now on
// for 0).
func (l *eventLog) cursor(from uint64) (*Cursor, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if from > l.last {
		return nil, fmt.Errorf("revision %d is ahead of the current revision %d", from, l.last)
	}
	if from == 0 || from == l.last {
		return &Cursor{log: l, next: l.end()}, nil
	}
	if from+1 < l.oldest() {
		return nil, fmt.Errorf("%w: %d (oldest kept: %d)", ErrRevisionGone, from, l.oldest())
	}
	// The events are in revision order; the first after from.
	i := sort.Search(len(l.events), func(i int) bool { return l.events[i].Revision > from })
	return &Cursor{log: l, next: l.base + uint64(i)}, nil
}

// follow returns a reader of the events from now on.
func (l *eventLog) follow() *Cursor {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return &Cursor{log: l, next: l.end()}
}

// Cursor reads the model's events in revision order. One goroutine owns
// a cursor.
type Cursor struct {
	log  *eventLog
	next uint64 // the sequence number of the next event to read
	buf  []Event
}

// Ready is closed when Read has something to return (events or an
// error); select on it beside a context.
func (c *Cursor) Ready() <-chan struct{} {
	c.log.mu.RLock()
	defer c.log.mu.RUnlock()
	if c.next < c.log.end() {
		return closed
	}
	return c.log.grown
}

var closed = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// Read returns the next events not yet read, oldest first, at most
// readBatch of them, without waiting (none when there is nothing new).
// The slice is the cursor's own and is reused by the next Read.
// ErrFellBehind means events were dropped before this cursor read them.
func (c *Cursor) Read() ([]Event, error) {
	c.log.mu.RLock()
	defer c.log.mu.RUnlock()
	l := c.log
	if c.next < l.base {
		l.behind.Add(1)
		return nil, fmt.Errorf("%w: %d events dropped unread", ErrFellBehind, l.base-c.next)
	}
	from := int(c.next - l.base)
	n := min(len(l.events)-from, readBatch)
	c.buf = append(c.buf[:0], l.events[from:from+n]...)
	c.next += uint64(n)
	return c.buf, nil
}
