package northbound

import (
	"context"
	"errors"

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
	cur, last, err := a.rt.Events(req.GetFromSeq())
	if err != nil {
		if errors.Is(err, eventlog.ErrRevisionGone) {
			return err // OutOfRange: list again from 0
		}
		return &controller.InvalidArgumentError{Field: "from_seq", Reason: err.Error()}
	}
	for {
		events, err := cur.Read()
		if errors.Is(err, eventlog.ErrFellBehind) {
			a.rt.WatcherFellBehind()
			return controller.ErrWatcherTooSlow
		}
		for _, e := range events {
			if err := send(&pb.Event{Seq: e.Seq, TimeUnixNano: e.Time.UnixNano(), Kind: e.Kind, Subject: e.Subject, Message: e.Message}); err != nil {
				return err
			}
			last = max(last, e.Seq)
		}
		if len(events) == 0 && !req.GetFollow() {
			return nil // the history asked for is sent
		}
		if len(events) > 0 {
			continue // there may be more right away
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.stopping:
			return controller.ErrShuttingDown
		case <-cur.Ready():
		}
	}
}

// Audit records an API change in the event stream: who made it, the
// method and its result (controller/api calls it for every change it
// takes).
func (a *API) Audit(who, method, result string) {
	a.rt.Emit(controller.EventAudit, who, method+": "+result)
}
