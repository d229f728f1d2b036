package controller

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/internal/eventlog"
	"github.com/loomsdn/loom/store"
)

// A switch coming and going are events, numbered above the start's time
// so a reader resuming across restarts is never handed the wrong ones;
// a reader can start from the oldest kept or resume after any seq.
func TestSwitchesAreEvents(t *testing.T) {
	start := time.Now()
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"))
	sw.Close()
	read := func(after uint64) []OpEvent {
		cur, err := r.ctl.Events(after)
		if err != nil {
			t.Fatal(err)
		}
		events, err := cur.Read()
		if err != nil {
			t.Fatal(err)
		}
		return append([]OpEvent(nil), events...)
	}
	var all []OpEvent
	r.eventually("connected and disconnected events", func() bool {
		all = read(0)
		return len(all) == 2
	})
	if all[0].Kind != EventSwitch || all[0].Subject != "0x00000000000000c1" || !strings.HasPrefix(all[0].Message, "connected from") ||
		!strings.HasPrefix(all[1].Message, "disconnected: ") {
		t.Fatalf("events %+v", all)
	}
	if all[0].Seq <= uint64(start.UnixMicro()) || all[1].Seq != all[0].Seq+1 {
		t.Fatalf("seqs %d, %d: want consecutive, above the start's time in µs %d", all[0].Seq, all[1].Seq, start.UnixMicro())
	}
	if after := read(all[0].Seq); len(after) != 1 || after[0].Seq != all[1].Seq {
		t.Fatalf("resuming after the first: %+v", after)
	}
	if _, err := r.ctl.Events(1); err == nil || !strings.Contains(err.Error(), eventlog.ErrRevisionGone.Error()) && !strings.Contains(err.Error(), "no longer") {
		t.Fatalf("a seq from before this loomd: %v, want it gone", err)
	}
}

// With a store, events outlive the process: a restarted controller hands
// out the earlier run's events, then its own, numbered above them.
func TestEventsSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loom.db")
	open := func() (*Controller, *store.Bolt) {
		b, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		log, _ := test.NewNullLogger()
		c, err := New(Config{Log: log, Store: b})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Restore(); err != nil {
			t.Fatal(err)
		}
		return c, b
	}
	c, b := open()
	c.Emit(EventPolicy, "api", "first run")
	c.Close() // writes what is left
	b.Close()

	c, b = open()
	defer func() { c.Close(); b.Close() }()
	c.Emit(EventPolicy, "api", "second run")
	cur, err := c.Events(0)
	if err != nil {
		t.Fatal(err)
	}
	events, _ := cur.Read()
	if len(events) != 2 || events[0].Message != "first run" || events[1].Message != "second run" || events[1].Seq <= events[0].Seq {
		t.Fatalf("after a restart: %+v", events)
	}
}
