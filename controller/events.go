package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/loomsdn/loom/internal/eventlog"
	"github.com/loomsdn/loom/store"
)

// OpEvent is one thing that happened, named for an operator: a switch
// came or went, a policy was applied, drift was repaired, a switch
// refused a flow, a tunnel path went up or down, a VM moved. The stream
// of them is `loomctl events` (WatchEvents).
type OpEvent struct {
	Seq     uint64
	Time    time.Time
	Kind    string // switch, policy, drift, switch-error, tunnel, vm, audit
	Subject string // what it is about: kvm01/vswitch02, kvm01->kvm02, a MAC
	Message string
}

// Event kinds.
const (
	EventSwitch      = "switch"
	EventPolicy      = "policy"
	EventDrift       = "drift"
	EventSwitchError = "switch-error"
	EventTunnel      = "tunnel"
	EventVM          = "vm"
	EventAudit       = "audit" // an API change: who, the method, the result
)

// keptEvents is about how many events the log keeps for readers that
// resume (it holds between this and twice this).
const keptEvents = 10000

// opEvents numbers events and keeps the recent ones. Sequence numbers
// start at the start's time in microseconds, so they keep growing across
// restarts and a reader resuming against a new loomd is told its place
// is gone instead of being handed the wrong events.
type opEvents struct {
	mu  sync.Mutex // orders numbering with appending
	seq uint64
	log *eventlog.Log[OpEvent]
}

func newOpEvents(now time.Time) *opEvents {
	e := &opEvents{seq: uint64(now.UnixMicro()), log: eventlog.New(keptEvents, func(e OpEvent) uint64 { return e.Seq })}
	e.log.Reset(e.seq)
	return e
}

// Emit records an event now.
func (c *Controller) Emit(kind, subject, message string) {
	e := c.events
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	e.log.Append(OpEvent{Seq: e.seq, Time: c.now(), Kind: kind, Subject: subject, Message: message})
}

// Emitf records an event with a formatted message.
func (c *Controller) Emitf(kind, subject, format string, args ...any) {
	c.Emit(kind, subject, fmt.Sprintf(format, args...))
}

// Events reads the events after seq (0: the oldest kept). A seq older
// than what is kept is eventlog.ErrRevisionGone.
func (c *Controller) Events(after uint64) (*eventlog.Cursor[OpEvent], error) {
	c.events.mu.Lock()
	l := c.events.log // replaced once, by restoreEvents
	c.events.mu.Unlock()
	if after == 0 {
		after = l.Oldest()
	}
	return l.Cursor(after)
}

// switchName names a switch for events: hypervisor/bridge when the model
// knows it, else its datapath id.
func (c *Controller) switchName(dpid uint64) string {
	if top := c.cfg.Topology; top != nil {
		if s, ok := top.Switch(dpid); ok && s.Bridge != "" {
			if s.Hypervisor != "" {
				return s.Hypervisor + "/" + s.Bridge
			}
			return s.Bridge
		}
	}
	return fmt.Sprintf("0x%016x", dpid)
}

// restoreEvents loads the events an earlier run kept (when the store
// keeps events), numbering on above them, and starts writing new ones
// behind, about once a second: a history that survives restarts without
// a write per event.
func (c *Controller) restoreEvents() error {
	es, ok := c.cfg.Store.(store.EventStore)
	if !ok {
		return nil
	}
	saved, err := es.LoadEvents()
	if err != nil {
		return fmt.Errorf("stored events: %w", err)
	}
	e := c.events
	e.mu.Lock()
	if len(saved) > 0 && saved[len(saved)-1].Seq < e.seq && e.log.Last() == e.seq {
		// Nothing was emitted yet: rebuild the log as the history, then go on
		// numbering from now (above every saved seq).
		log := eventlog.New(keptEvents, func(e OpEvent) uint64 { return e.Seq })
		log.Reset(saved[0].Seq - 1)
		for _, s := range saved {
			log.Append(OpEvent{Seq: s.Seq, Time: s.Time, Kind: s.Kind, Subject: s.Subject, Message: s.Message})
		}
		e.log = log
		e.seq = max(e.seq, saved[len(saved)-1].Seq)
	}
	cur := e.log.Follow()
	e.mu.Unlock()
	c.jobs.Go("persist-events", func(ctx context.Context) { c.persistEvents(ctx, es, cur) })
	return nil
}

// persistEvents writes the events cur reads, batched, until ctx ends
// (then what is left).
func (c *Controller) persistEvents(ctx context.Context, es store.EventStore, cur *eventlog.Cursor[OpEvent]) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	save := func() {
		var batch []store.StoredEvent
		for {
			events, err := cur.Read()
			if err != nil { // fell behind: a gap in the kept history, said once
				c.log.WithError(err).Warn("some events were not written to the store")
				c.events.mu.Lock()
				cur = c.events.log.Follow()
				c.events.mu.Unlock()
				break
			}
			if len(events) == 0 {
				break
			}
			for _, e := range events {
				batch = append(batch, store.StoredEvent{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Subject: e.Subject, Message: e.Message})
			}
		}
		if len(batch) > 0 {
			if err := es.SaveEvents(batch, keptEvents); err != nil {
				c.log.WithError(err).Warn("events not written to the store; the history in memory goes on")
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			save()
			return
		case <-t.C:
			save()
		}
	}
}
