package topology

import "github.com/loomsdn/loom/internal/eventlog"

// recentEvents is about how many past events the model keeps (between
// this and twice this): how far a reader may fall behind, and how far back
// a watcher can resume.
const recentEvents = 10000

// ErrRevisionGone means a watcher asked to resume from a revision whose
// events are no longer kept; it must list again and watch from there.
var ErrRevisionGone = eventlog.ErrRevisionGone

// ErrFellBehind means a cursor's next event was dropped from the log
// before it was read; the reader resumes from the last revision it saw
// (or lists again if that is gone too).
var ErrFellBehind = eventlog.ErrFellBehind

// Cursor reads the model's events in revision order (Watch, Follow).
type Cursor = eventlog.Cursor[Event]

func newEventLog() *eventlog.Log[Event] {
	return eventlog.New(recentEvents, func(e Event) uint64 { return e.Revision })
}
