package northbound

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/internal/eventlog"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// WatchEvents implements ControllerService: the events after
// req.FromSeq (the oldest kept for 0), then, with follow, the new ones
// until ctx ends or send fails.
func (a *API) WatchEvents(ctx context.Context, req *pb.WatchEventsRequest, send func(*pb.Event) error) error {
	release, err := a.rt.AdmitWatcher(false)
	if err != nil {
		return err
	}
	defer release()
	cur, err := a.rt.Events(req.GetFromSeq())
	if err != nil {
		if errors.Is(err, eventlog.ErrRevisionGone) {
			return err // OutOfRange: list again from 0
		}
		return &controller.InvalidArgumentError{Field: "from_seq", Reason: err.Error()}
	}
	return stream(ctx, a, cur, req.GetFollow(), func(e controller.OpEvent) *pb.Event {
		return &pb.Event{Seq: e.Seq, TimeUnixNano: e.Time.UnixNano(), Kind: e.Kind, Subject: e.Subject, Message: e.Message}
	}, send)
}

// Audit records an API change in the event stream: who made it, the
// method and its result (controller/api calls it for every change it
// takes). A caller repeating one method faster than once per
// auditEvery (an app setting flows in a loop) gets one event per
// interval, counting the calls it stands for, so it cannot push
// everything else out of the kept history; the audit log line stays one
// per call.
func (a *API) Audit(who, method, result string) {
	now := a.rt.Now()
	k := [3]string{who, method, result}
	a.auditMu.Lock()
	if a.audits == nil || len(a.audits) >= maxAuditCallers {
		a.audits = map[[3]string]*auditState{} // bounded: start over rather than grow
	}
	st := a.audits[k]
	if st != nil && now.Sub(st.last) < auditEvery {
		st.suppressed++
		a.auditMu.Unlock()
		return
	}
	more := 0
	if st != nil {
		more = st.suppressed
	}
	a.audits[k] = &auditState{last: now}
	a.auditMu.Unlock()
	msg := method + ": " + result
	if more > 0 {
		msg += fmt.Sprintf(" (and %d more such calls since the last event)", more)
	}
	a.rt.Emit(controller.EventAudit, who, msg)
}

// auditState is one (caller, method, result)'s last audit event.
type auditState struct {
	last       time.Time
	suppressed int
}

// The audit events' rate and memory bounds.
const (
	auditEvery      = time.Second
	maxAuditCallers = 1024
)
