package group

import (
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func quiet() (*logrus.Entry, *test.Hook) {
	l := logrus.New()
	l.SetOutput(io.Discard)
	h := test.NewLocal(l)
	return logrus.NewEntry(l), h
}

// Close cancels the members' context and returns only after each has
// returned.
func TestCloseCancelsAndWaits(t *testing.T) {
	log, _ := quiet()
	g := New(context.Background(), log)
	var ended atomic.Int32
	for i := 0; i < 10; i++ {
		if !g.Go("loop", func(ctx context.Context) {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // winding down takes a moment
			ended.Add(1)
		}) {
			t.Fatal("Go refused before Close")
		}
	}
	if got := len(g.Running()); got != 10 {
		t.Fatalf("running: %d, want 10", got)
	}
	g.Close()
	if n := ended.Load(); n != 10 {
		t.Fatalf("Close returned with %d of 10 members ended", 10-n)
	}
	if r := g.Running(); len(r) != 0 {
		t.Fatalf("still running after Close: %v", r)
	}
	if g.Context().Err() == nil {
		t.Fatal("the group's context is not cancelled after Close")
	}
}

// A member ends with its parent's context too; Close then has nothing to
// wait for.
func TestParentEnds(t *testing.T) {
	log, _ := quiet()
	parent, cancel := context.WithCancel(context.Background())
	g := New(parent, log)
	done := make(chan struct{})
	g.Go("loop", func(ctx context.Context) { <-ctx.Done(); close(done) })
	cancel()
	<-done
	g.Close()
}

// A panic is recovered and logged with the member's name; the others go
// on, and Close still returns.
func TestPanicRecovered(t *testing.T) {
	log, hook := quiet()
	g := New(context.Background(), log)
	g.Go("steady", func(ctx context.Context) { <-ctx.Done() })
	g.Go("buggy", func(context.Context) { panic("boom") })
	deadline := time.Now().Add(5 * time.Second)
	for g.Panics() == 0 || len(g.Running()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("panic not recovered: panics %d, running %v", g.Panics(), g.Running())
		}
		time.Sleep(time.Millisecond)
	}
	if r := g.Running(); r[0] != "steady" {
		t.Fatalf("running %v, want the steady member", r)
	}
	var found bool
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.ErrorLevel && e.Data["goroutine"] == "buggy" && e.Data["panic"] == "boom" &&
			strings.Contains(e.Data["stack"].(string), "TestPanicRecovered") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no error line naming the goroutine, its panic and stack: %v", hook.AllEntries())
	}
	g.Close()
}

// Go after Close starts nothing.
func TestGoAfterClose(t *testing.T) {
	log, _ := quiet()
	g := New(context.Background(), log)
	g.Close()
	var ran atomic.Bool
	if g.Go("late", func(context.Context) { ran.Store(true) }) {
		t.Fatal("Go after Close reported a start")
	}
	time.Sleep(10 * time.Millisecond)
	if ran.Load() {
		t.Fatal("Go after Close ran its function")
	}
	g.Close() // again: idempotent
}

// Close from many goroutines at once: each returns after the members, and
// none panics on a double close.
func TestConcurrentClose(t *testing.T) {
	log, _ := quiet()
	g := New(context.Background(), log)
	var ended atomic.Int32
	for i := 0; i < 5; i++ {
		g.Go("loop", func(ctx context.Context) {
			<-ctx.Done()
			time.Sleep(5 * time.Millisecond)
			ended.Add(1)
		})
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.Close()
			if n := ended.Load(); n != 5 {
				t.Errorf("a Close returned with %d of 5 members ended", n)
			}
		}()
		wg.Add(1)
		go func() { // and Go racing with Close: started and awaited, or refused
			defer wg.Done()
			g.Go("racer", func(ctx context.Context) { <-ctx.Done() })
		}()
	}
	wg.Wait()
	if r := g.Running(); len(r) != 0 {
		t.Fatalf("still running: %v", r)
	}
}

// CloseWithin gives up on a member that ignores its context, names it and
// logs it.
func TestCloseWithinNamesStragglers(t *testing.T) {
	log, hook := quiet()
	g := New(context.Background(), log)
	release := make(chan struct{})
	g.Go("prompt", func(ctx context.Context) { <-ctx.Done() })
	g.Go("stuck", func(context.Context) { <-release })
	start := time.Now()
	left := g.CloseWithin(50 * time.Millisecond)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("CloseWithin took %v", took)
	}
	if len(left) != 1 || left[0] != "stuck" {
		t.Fatalf("stragglers %v, want [stuck]", left)
	}
	var logged bool
	for _, e := range hook.AllEntries() {
		if names, ok := e.Data["goroutines"].([]string); ok && e.Level == logrus.WarnLevel && len(names) == 1 && names[0] == "stuck" {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("stragglers not logged: %v", hook.AllEntries())
	}
	close(release)
	g.Close() // and a later Close waits for it
	if r := g.Running(); len(r) != 0 {
		t.Fatalf("still running: %v", r)
	}
}

// A deadline already passed waits not at all (it is no "no bound").
func TestCloseWithinPassedDeadline(t *testing.T) {
	log, _ := quiet()
	g := New(context.Background(), log)
	release := make(chan struct{})
	g.Go("stuck", func(context.Context) { <-release })
	if left := g.CloseWithin(-time.Second); len(left) != 1 {
		t.Fatalf("stragglers %v, want [stuck]", left)
	}
	close(release)
	g.Close()
	if left := g.CloseWithin(0); left != nil {
		t.Fatalf("stragglers after all ended: %v", left)
	}
}
