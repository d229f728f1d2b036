package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// Links in a cluster: a probe that leaves a switch one instance masters
// comes in on a switch another masters, and only that one hears it. LLDP
// discovery hands the directions it hears to a LinkShare (its Sharer),
// which this instance publishes for the switches it masters, and hears
// the others' through the shared store's watch (LinkObserver), so every
// instance finds the same links.

// LinkObserver is discovery's side: it hears the directions the cluster
// published (this instance's too) and withdrew.
type LinkObserver interface {
	SharedHeard(log *logrus.Entry, from, to topology.Endpoint, up bool, now time.Time)
}

// LinkShare queues the directions discovery heard or withdrew until the
// controller publishes them. Heard never blocks: the latest word on each
// direction is kept, so the queue is bounded by the directions real
// probes took (probes are signed: a forger adds none).
type LinkShare struct {
	mu      sync.Mutex
	pending map[[2]topology.Endpoint]bool // direction -> up
	wake    chan struct{}
	masters atomic.Pointer[func(uint64) (time.Time, bool)] // set by ShareLinks
}

// NewLinkShare returns an empty queue, to give discovery before the
// controller exists.
func NewLinkShare() *LinkShare {
	return &LinkShare{pending: map[[2]topology.Endpoint]bool{}, wake: make(chan struct{}, 1)}
}

// Heard implements discovery.Sharer.
func (l *LinkShare) Heard(from, to topology.Endpoint, up bool) {
	l.mu.Lock()
	l.pending[[2]topology.Endpoint{from, to}] = up
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// MasterSince implements discovery.Sharer: since when this instance
// masters dpid (ok false: it does not, or is not sharing yet).
func (l *LinkShare) MasterSince(dpid uint64) (time.Time, bool) {
	if f := l.masters.Load(); f != nil {
		return (*f)(dpid)
	}
	return time.Time{}, false
}

// take empties the queue.
func (l *LinkShare) take() map[[2]topology.Endpoint]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.pending
	l.pending = map[[2]topology.Endpoint]bool{}
	return out
}

// giveBack requeues what could not be written, unless a newer word on a
// direction came in meanwhile.
func (l *LinkShare) giveBack(m map[[2]topology.Endpoint]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for d, up := range m {
		if _, newer := l.pending[d]; !newer {
			l.pending[d] = up
		}
	}
}

// A failed publish waits before the next try, doubling from
// linkShareRetryMin to linkShareRetryMax: a lease blip is over at once, an
// etcd that is down is not hammered.
const (
	linkShareRetryMin = 100 * time.Millisecond //nolint:revive // time-naming: Min is minimum
	linkShareRetryMax = 5 * time.Second
)

// ShareLinks hands obs the directions other instances published, then
// publishes, until Close, what ls queues for the switches this instance
// masters.
func (c *Controller) ShareLinks(sh ObservedSharer, ls *LinkShare, obs LinkObserver) error {
	c.linkObs.Store(&obs)
	masters := c.masterSince
	ls.masters.Store(&masters)
	err := sh.LoadObserved(store.ObservedLinks, func(o store.Observed) error { c.sharedLink(o); return nil })
	if err != nil {
		return err
	}
	c.jobs.Go("share-links", func(ctx context.Context) { c.publishLinks(ctx, sh, ls) })
	return nil
}

func (c *Controller) publishLinks(ctx context.Context, sh ObservedSharer, ls *LinkShare) {
	var failing bool
	retry := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ls.wake:
		}
		pending := ls.take()
		var out []store.Observed
		for d, up := range pending {
			if c.passive(d[1].DPID) {
				delete(pending, d) // another's switch: its master speaks for it
				continue
			}
			out = append(out, store.Observed{Kind: store.ObservedLinks, Key: directionKey(d[0], d[1]), DPID: d[1].DPID,
				Data: []byte("heard"), Delete: !up})
		}
		if len(out) == 0 {
			continue
		}
		err := sh.SaveObserved(out)
		if err == nil {
			failing, retry = false, 0
			continue
		}
		if !failing {
			c.log.WithError(err).Warn("cannot publish LLDP directions to the cluster's store; retrying")
		}
		failing = true
		ls.giveBack(pending)
		retry = min(max(2*retry, linkShareRetryMin), linkShareRetryMax)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		select {
		case ls.wake <- struct{}{}:
		default:
		}
	}
}

// sharedLink hands discovery one direction from the shared store.
func (c *Controller) sharedLink(o store.Observed) {
	p := c.linkObs.Load()
	if p == nil {
		return
	}
	from, to, err := parseDirectionKey(o.Key)
	if err != nil {
		c.log.WithError(err).Warn("an LLDP direction another instance published is unreadable; ignored")
		return
	}
	(*p).SharedHeard(c.log, from, to, !o.Delete, time.Now())
}

// directionKey names a probe's direction in the shared store: FROM>TO,
// each end as topology.Endpoint writes it.
func directionKey(from, to topology.Endpoint) string { return from.String() + ">" + to.String() }

func parseDirectionKey(k string) (from, to topology.Endpoint, err error) {
	f, t, ok := strings.Cut(k, ">")
	if !ok {
		return from, to, fmt.Errorf("direction %q: want FROM>TO", k)
	}
	if from, err = topology.ParseEndpoint(f); err != nil {
		return from, to, fmt.Errorf("direction %q: %w", k, err)
	}
	if to, err = topology.ParseEndpoint(t); err != nil {
		return from, to, fmt.Errorf("direction %q: %w", k, err)
	}
	// Only the form this package writes: another spelling of the same
	// direction would be one its master can never withdraw.
	if directionKey(from, to) != k {
		return from, to, fmt.Errorf("direction %q: not in the canonical form %q", k, directionKey(from, to))
	}
	return from, to, nil
}
