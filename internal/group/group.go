// Package group gives a component's long-lived goroutines an owner. A
// Group starts each goroutine bound to its context, under a name; Close
// cancels that context and waits for every one of them, so when a
// component's Close returns nothing it started is still running (or, with
// CloseWithin, the names of what is are logged and returned). Loom's
// components (the controller's loops, the OVSDB clients, the persister)
// each own one.
//
// A panic in a member is recovered and logged with the member's name and
// stack; that member ends, the others and the process go on. The group
// does not restart it: Loom's members are loops, and one that panicked on
// a bug would most likely panic again on the same input; a logged error
// and a stopped loop is what an operator can report, a restart loop is
// not.
package group

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Group owns goroutines started with Go until Close. The zero value is
// not usable: make one with New.
type Group struct {
	log    *logrus.Entry
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	next    uint64
	running map[uint64]string // live members by id: their names (names may repeat)
	idle    chan struct{}     // closed once closed and no member runs

	panics atomic.Uint64
}

// New makes a group whose context is a child of parent: members also end
// when parent does (the group is not closed by that; Close still waits).
func New(parent context.Context, log *logrus.Entry) *Group {
	ctx, cancel := context.WithCancel(parent)
	return &Group{log: log, ctx: ctx, cancel: cancel, running: map[uint64]string{}, idle: make(chan struct{})}
}

// Context is the members' context: cancelled by Close (or the parent).
// Work a member starts for the group (an operation with a timeout) should
// derive from it.
func (g *Group) Context() context.Context { return g.ctx }

// Go starts fn on its own goroutine with the group's context, and reports
// whether it did: after Close it does nothing and returns false. fn must
// return once the context is done. The goroutine carries the pprof label
// goroutine=name, so a goroutine profile says whose it is.
func (g *Group) Go(name string, fn func(ctx context.Context)) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	g.next++
	id := g.next
	g.running[id] = name
	g.mu.Unlock()
	go func() {
		defer g.exit(id)
		defer func() {
			if r := recover(); r != nil {
				g.panics.Add(1)
				g.log.WithFields(logrus.Fields{"goroutine": name, "panic": fmt.Sprint(r), "stack": string(debug.Stack())}).Error(
					"goroutine failed on a bug and stopped; it is not restarted (please report this line)")
			}
		}()
		pprof.Do(g.ctx, pprof.Labels("goroutine", name), fn)
	}()
	return true
}

func (g *Group) exit(id uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.running, id)
	if g.closed && len(g.running) == 0 {
		close(g.idle)
	}
}

// Close cancels the members' context and waits for all of them. It is
// idempotent and safe to call from several goroutines at once; every
// caller returns once the last member has.
func (g *Group) Close() {
	g.shut()
	<-g.idle
}

// CloseWithin is Close that waits at most limit (not at all when limit <=
// 0: a deadline already passed). It returns the names of the members
// still running then, sorted, and logs them: they were told to stop and
// will end unowned. A member that ignores its context is a bug this
// reports, not one it can mend.
func (g *Group) CloseWithin(limit time.Duration) []string {
	g.shut()
	t := time.NewTimer(max(limit, 0))
	defer t.Stop()
	select {
	case <-g.idle:
		return nil
	case <-t.C:
	}
	select {
	case <-g.idle: // the timer and the last member together
		return nil
	default:
	}
	left := g.Running()
	if len(left) > 0 {
		g.log.WithFields(logrus.Fields{"goroutines": left, "waited": max(limit, 0)}).Warn(
			"goroutines did not stop in time; shutting down without them")
	}
	return left
}

// shut refuses further members and cancels the context (once).
func (g *Group) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	g.cancel()
	if len(g.running) == 0 {
		close(g.idle)
	}
}

// Running lists the names of the members running now, sorted.
func (g *Group) Running() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.running))
	for _, n := range g.running {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Panics counts the members that ended in a recovered panic.
func (g *Group) Panics() uint64 { return g.panics.Load() }
