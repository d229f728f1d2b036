package northbound

import (
	"context"
	"errors"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/internal/eventlog"
)

// stream sends what cur reads, converted by conv, until ctx ends, the API
// shuts down or send fails; without follow it ends once it has sent what
// the log holds. A reader the log dropped items from is ended with
// ErrWatcherTooSlow (it resumes from the last item it saw). Every watch
// of the API (topology, events) is this loop.
func stream[T, W any](ctx context.Context, a *API, cur *eventlog.Cursor[T], follow bool, conv func(T) W, send func(W) error) error {
	for {
		items, err := cur.Read()
		if errors.Is(err, eventlog.ErrFellBehind) {
			a.rt.WatcherFellBehind()
			return controller.ErrWatcherTooSlow
		}
		for _, it := range items {
			if err := send(conv(it)); err != nil {
				return err
			}
		}
		if len(items) > 0 {
			continue // there may be more right away
		}
		if !follow {
			return nil // the history asked for is sent
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
