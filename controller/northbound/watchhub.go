package northbound

import (
	"context"
	"fmt"
	"time"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/internal/eventlog"
	"github.com/loomsdn/loom/internal/group"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

// watchHub turns each topology event into its wire form once, for every
// watch stream: with thousands of streams open, converting per stream was
// a tenth of loomd's CPU and much of its garbage. One goroutine follows
// the model and appends to a log of wire events with the same revisions;
// streams read that log through cursors, as they read the model's.
type watchHub struct {
	top  *topology.Topology
	stop <-chan struct{}
	log  *eventlog.Log[*pb.TopologyEvent]
}

// startWatchHub follows top from now on until stop is closed, on a
// goroutine of jobs (the API's, awaited by Shutdown). It starts with the
// API, so every revision this loomd hands out can be resumed from (within
// the log's reach).
func startWatchHub(jobs *group.Group, top *topology.Topology, stop <-chan struct{}) *watchHub {
	h := &watchHub{top: top, stop: stop,
		log: eventlog.New(hubEvents, func(e *pb.TopologyEvent) uint64 { return e.Revision })}
	cur, rev := top.FollowAt()
	h.log.Reset(rev)
	jobs.Go("watch-hub", func(context.Context) { h.run(cur) })
	return h
}

// hubEvents is about how many wire events the hub keeps, as the model does.
const hubEvents = 10000

// run converts until the API shuts down. Each pass reads everything the
// model has (the model appends whole revisions, so a pass ends on a
// revision boundary) and appends it at once: a stream never sees part of
// a revision. If the hub itself falls behind the model, every stream
// starts over (ErrWatcherTooSlow), as if it had fallen behind.
func (h *watchHub) run(cur *topology.Cursor) {
	var batch []*pb.TopologyEvent
	for {
		select {
		case <-h.stop:
			return
		case <-cur.Ready():
		}
		batch = batch[:0]
		for {
			events, err := cur.Read()
			if err != nil {
				var rev uint64
				cur, rev = h.top.FollowAt()
				h.log.Reset(rev)
				batch = batch[:0]
				break
			}
			if len(events) == 0 {
				break
			}
			for _, e := range events {
				batch = append(batch, toEvent(e))
			}
		}
		h.log.Append(batch...)
		clear(batch) // the log holds them now; the batch holds nothing alive
	}
}

// cursor returns a reader of the wire events after revision from. A from
// the model has reached but the hub not yet (a client that listed a
// moment ago) waits for the hub, briefly.
func (h *watchHub) cursor(from uint64, modelRev uint64) (*eventlog.Cursor[*pb.TopologyEvent], error) {
	log := h.log
	if from > log.Last() && from <= modelRev {
		probe := log.Follow()
		deadline := time.After(time.Second)
	wait:
		for log.Last() < from {
			select {
			case <-probe.Ready():
				_, _ = probe.Read() // drained only to wait for the log to reach from
			case <-deadline:
				break wait
			case <-h.stop:
				return nil, controller.ErrShuttingDown
			}
		}
	}
	if from > log.Last() {
		return nil, fmt.Errorf("%w: the watch service has not caught up with revision %d yet", controller.ErrBusy, from)
	}
	return log.Cursor(from)
}
