package store

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdWatch is what a watch reports: the shared state another instance
// changed. Both run on the watch's goroutine, one at a time, in the
// order of the writes; they are called with no lock of the store held,
// so they may call it. Either may be nil.
type EtcdWatch struct {
	Networks func(data []byte)      // the networks key changed by another writer (nil data: deleted)
	External func(ch DesiredChange) // an external declaration written or deleted by another writer
	// Observed hears every write of an observation, hosts/ and links/
	// (this store's own too: the caller tells by the switch, which only
	// one instance masters).
	Observed func(o Observed)
	// Forgotten hears that a switch was forgotten through an instance
	// (this one's too), with the API's flows when all (ForgetSwitch).
	Forgotten func(dpid uint64, all bool)
}

// Watch reports, on a goroutine of the store's, the networks and
// ExternalApp declarations other writers change, until ctx ends or
// Close. It starts just after the revision the store was opened at, so
// call it after the first loads: a write between the loads and the
// watch is reported, one the loads already returned is not. This
// store's own writes are not reported. Loads while it runs are not
// ordered with its reports (one may report a write older than a load
// returned): load first. One watch at a time: a Watch while another runs
// panics; one after it ended resumes where it stopped.
func (e *Etcd) Watch(ctx context.Context, h EtcdWatch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.watching {
		panic("store: Etcd.Watch called while a watch runs")
	}
	e.watching = true
	w := &watcher{e: e, h: h, cursor: e.cursor}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.base, cancel)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer cancel()
		defer stop()
		w.run(ctx)
		e.mu.Lock()
		e.watching, e.cursor = false, w.cursor
		e.mu.Unlock()
	}()
}

// watcher is one running watch.
type watcher struct {
	e      *Etcd
	h      EtcdWatch
	cursor int64 // the last revision handled
}

// Between failed watches the watch waits, doubling from watchRetryMin
// to watchRetryMax, so an etcd that is down is not hammered.
const (
	watchRetryMin = 100 * time.Millisecond //nolint:revive // time-naming: Min is minimum (beside watchRetryMax), not minutes
	watchRetryMax = 5 * time.Second
)

// run keeps a watch open: a broken one resumes after the last revision
// handled, missing nothing; a compacted one (the revisions it needs are
// gone) reads the current state, reports what changed, and resumes after
// that read.
func (w *watcher) run(ctx context.Context) {
	delay := time.Duration(0)
	// A re-read first, too: a compaction since the loads, at exactly the
	// revision the watch would start from, would hide a deletion.
	resync := true
	for {
		// wait is false only after a resync that worked: the watch
		// resumes at once. A watch that ended and a failed resync wait,
		// so one that keeps breaking, or an etcd that is down, is not
		// retried in a spin.
		wait := true
		if resync {
			resync = w.resync() != nil
			wait = resync
		} else {
			var progressed bool
			_, progressed = w.watch(ctx)
			// Every watch that ended is followed by a re-read, compacted or
			// not: etcd does not report a compaction at exactly the revision
			// a watch resumes from, though its tombstones are gone.
			resync = true
			if progressed {
				delay = 0
			}
		}
		if ctx.Err() != nil || w.e.cli.Ctx().Err() != nil {
			return
		}
		if wait {
			delay = min(max(2*delay, watchRetryMin), watchRetryMax)
			if !sleep(ctx, delay) {
				return
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// watch runs one etcd watch from the cursor until it breaks. It watches
// one range, from the declarations to the networks key: the external
// declarations are spread over every switch's keys, so the range holds
// the other apps' too (and the meta keys), which are skipped.
func (w *watcher) watch(ctx context.Context) (compacted, progressed bool) {
	// Without a leader the member cannot tell what is committed: the
	// watch ends and resumes on a member that can.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	e := w.e
	ch := e.cli.Watch(wctx, e.desiredRoot(), clientv3.WithRange(e.networksKey()+"\x00"), clientv3.WithRev(w.cursor+1))
	for wr := range ch {
		if wr.CompactRevision != 0 {
			return true, progressed
		}
		if wr.Err() != nil {
			return false, progressed
		}
		for _, ev := range wr.Events {
			w.event(ev)
			w.cursor = ev.Kv.ModRevision
			progressed = true
		}
	}
	return false, progressed
}

// event reports one write if it is news to the handler.
func (w *watcher) event(ev *clientv3.Event) {
	k, rev := string(ev.Kv.Key), ev.Kv.ModRevision
	del := ev.Type == clientv3.EventTypeDelete
	if k == w.e.networksKey() {
		var data []byte
		mod := int64(0)
		if !del {
			data, mod = append([]byte{}, ev.Kv.Value...), rev
		}
		w.networks(data, mod, rev)
		return
	}
	if w.forgottenEvent(k, ev.Kv.Value, del) {
		return
	}
	if o, ok := w.e.observedEvent(k, ev.Kv.Value, del); ok {
		w.e.noteObserved(o.Kind+"/"+o.Key, del)
		if w.h.Observed != nil {
			w.h.Observed(o)
		}
		return
	}
	c, err := w.e.parseDesired(k, ev.Kv.Value)
	if err != nil || c.App != ExternalApp {
		return
	}
	w.e.extMu.Lock()
	news := w.e.noteExternal(k, rev, del)
	w.e.extMu.Unlock()
	if news && w.h.External != nil {
		if del {
			c.Flows, c.Delete = nil, true
		}
		w.h.External(c)
	}
}

// noteExternal records that key was written (or deleted) at rev and says
// whether that is news: not already known from a load or a later event,
// nor this store's own write. The caller holds extMu.
func (e *Etcd) noteExternal(key string, rev int64, deleted bool) bool {
	if rev <= e.extSeen {
		return false
	}
	if st, ok := e.ext[key]; ok && st.rev >= rev {
		if st.gone && st.rev == rev {
			delete(e.ext, key) // this store's own deletion, now seen: forget it
		}
		return false
	}
	if deleted {
		delete(e.ext, key)
	} else {
		e.ext[key] = extState{rev: rev}
	}
	return true
}

// networks reports the networks key's state as of rev (data nil and mod
// 0: absent) if it is news. The state is adopted as the one the next
// SaveNetworks expects only after the handler has applied it: a save the
// caller makes from its older state in between is refused as a conflict
// instead of undoing the other writer's change.
func (w *watcher) networks(data []byte, mod, rev int64) {
	e := w.e
	e.netMu.Lock()
	news := rev > e.netSeen
	e.netMu.Unlock()
	if !news {
		return
	}
	if w.h.Networks != nil {
		w.h.Networks(data)
	}
	e.netMu.Lock()
	if rev > e.netSeen {
		e.netRev, e.netSeen = mod, rev
	}
	e.netMu.Unlock()
}

// resync reads the networks key and every declaration as of one
// revision, after a compaction took the revisions the watch needed, and
// reports what changed since the handler last heard: the networks if
// they changed, the external declarations written since, and those
// known that are gone. The watch then resumes after that revision.
func (w *watcher) resync() error {
	e := w.e
	data, mod, rev, err := e.get(e.networksKey())
	if err != nil {
		return err
	}
	read := map[string]int64{}
	var puts []DesiredChange
	var putKeys []string
	_, err = e.walk(e.desiredRoot(), clientv3.GetPrefixRangeEnd(e.desiredRoot()), rev, func(k string, v []byte, m int64) error {
		c, err := e.parseDesired(k, v)
		if err != nil || c.App != ExternalApp {
			return nil
		}
		read[k] = m
		puts, putKeys = append(puts, c), append(putKeys, k)
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.resyncObserved(rev); err != nil {
		return err
	}
	if err := w.resyncForgotten(rev); err != nil {
		return err
	}
	w.resyncNetworks(data, mod, rev)
	w.resyncExternal(read, puts, putKeys, rev)
	w.cursor = rev
	return nil
}

// resyncNetworks reports the networks key read at rev if it differs from
// what was known.
func (w *watcher) resyncNetworks(data []byte, mod, rev int64) {
	e := w.e
	e.netMu.Lock()
	changed := mod > e.netSeen || (mod == 0 && e.netRev != 0)
	e.netMu.Unlock()
	if changed {
		w.networks(data, mod, rev)
	}
}

// resyncExternal reports the external declarations read at rev that are
// news, and deletions of known ones no longer there, then knows exactly
// what was read.
func (w *watcher) resyncExternal(read map[string]int64, puts []DesiredChange, putKeys []string, rev int64) {
	e := w.e
	var news []DesiredChange
	e.extMu.Lock()
	for i, k := range putKeys {
		m := read[k]
		if st, ok := e.ext[k]; (ok && st.rev >= m) || m <= max(w.cursor, e.extSeen) {
			continue
		}
		news = append(news, puts[i])
	}
	known := make(map[string]extState, len(read))
	for k, st := range e.ext {
		_, there := read[k]
		switch {
		case st.rev > rev: // this store wrote it after the read: keep what it wrote
			known[k] = st
		case !there && !st.gone:
			if c, err := e.parseDesired(k, nil); err == nil {
				c.Flows, c.Delete = nil, true
				news = append(news, c)
			}
		}
	}
	for k, m := range read {
		if _, ok := known[k]; !ok {
			known[k] = extState{rev: m}
		}
	}
	e.ext = known
	e.extSeen = max(e.extSeen, rev)
	e.extMu.Unlock()
	if w.h.External == nil {
		return
	}
	for _, c := range news {
		w.h.External(c)
	}
}
