package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Forgetting a switch in a cluster. A switch that is gone (its bridge
// deleted, its host retired) leaves its declarations, the hosts seen on
// it and the probe directions through it in etcd, where a later master of
// the same datapath id would restore them. ForgetSwitch deletes them
// while no instance reaches the switch (a compare on the cluster's reach
// and election keys, so a switch that reconnects meanwhile keeps its
// state), and leaves a tombstone for a minute under forgotten/DPID that
// every instance's watch reports, so all forget it.

// ErrSwitchReached refuses to forget a switch an instance still reaches.
var ErrSwitchReached = errors.New("an instance of the cluster still reaches the switch")

// forgottenTTL is how long a tombstone stands: long enough for every
// instance's watch, short enough that a switch coming back is not
// forgotten again by an instance that resyncs late.
const forgottenTTL = 60 // seconds

func (e *Etcd) forgottenRoot() string { return e.prefix + "forgotten/" }

// ForgetSwitch deletes what the shared store holds about dpid: every
// app's declarations for it but the API's (unless all), the hosts seen on
// it and the probe directions through it. It returns how many keys went.
func (e *Etcd) ForgetSwitch(ctx context.Context, dpid uint64, all bool) (int, error) {
	if e.reached == nil {
		return 0, fmt.Errorf("%w: this store cannot tell which instances reach it", ErrSwitchReached)
	}
	keys, err := e.switchKeys(dpid, all)
	if err != nil {
		return 0, err
	}
	var cmps []clientv3.Cmp
	for _, p := range e.reached(dpid) {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(p), "=", 0).WithPrefix())
	}
	lctx, cancel := context.WithTimeout(ctx, e.timeout)
	lease, err := e.cli.Grant(lctx, forgottenTTL)
	cancel()
	if err != nil {
		return 0, e.fail(e.forgottenKey(dpid), err)
	}
	tomb := clientv3.OpPut(e.forgottenKey(dpid), strconv.FormatBool(all), clientv3.WithLease(lease.ID))
	e.extMu.Lock()
	defer e.extMu.Unlock()
	done := 0
	for {
		chunk := keys[:min(len(keys), maxTxnOps-1)]
		keys = keys[len(chunk):]
		ops := make([]clientv3.Op, 0, len(chunk)+1)
		for _, k := range chunk {
			ops = append(ops, clientv3.OpDelete(k))
		}
		if len(keys) == 0 {
			ops = append(ops, tomb) // the last: the others forget once all is gone
		}
		rctx, cancel := context.WithTimeout(ctx, e.timeout)
		resp, err := e.cli.Txn(rctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			return done, e.fail(fmt.Sprintf("the keys of switch 0x%016x", dpid), err)
		}
		if !resp.Succeeded {
			return done, fmt.Errorf("%w 0x%016x: %s", ErrSwitchReached, dpid, e.reachers(ctx, dpid))
		}
		for _, k := range chunk {
			if _, ok := e.ext[k]; ok {
				e.ext[k] = extState{rev: resp.Header.Revision, gone: true} // this store's own deletion
			}
		}
		done += len(chunk)
		if len(keys) == 0 {
			return done, nil
		}
	}
}

func (e *Etcd) forgottenKey(dpid uint64) string {
	return fmt.Sprintf("%s%016x", e.forgottenRoot(), dpid)
}

// switchKeys lists the keys ForgetSwitch deletes.
func (e *Etcd) switchKeys(dpid uint64, all bool) ([]string, error) {
	var keys []string
	_, err := e.walk(e.switchPrefix(dpid), clientv3.GetPrefixRangeEnd(e.switchPrefix(dpid)), 0, func(k string, v []byte, _ int64) error {
		if c, err := e.parseDesired(k, v); err != nil || all || c.App != ExternalApp {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	hosts := e.observedRoot(ObservedHosts)
	_, err = e.walk(hosts, clientv3.GetPrefixRangeEnd(hosts), 0, func(k string, v []byte, _ int64) error {
		var h struct {
			DPID uint64 `json:"dpid"`
		}
		if json.Unmarshal(v, &h) == nil && h.DPID == dpid {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	links := e.observedRoot(ObservedLinks)
	end := fmt.Sprintf("0x%016x:", dpid)
	_, err = e.walk(links, clientv3.GetPrefixRangeEnd(links), 0, func(k string, _ []byte, _ int64) error {
		if strings.Contains(k, end) {
			keys = append(keys, k)
		}
		return nil
	})
	return keys, err
}

// reachers names who still reaches dpid, for the refusal.
func (e *Etcd) reachers(ctx context.Context, dpid uint64) string {
	var names []string
	for _, p := range e.reached(dpid) {
		rctx, cancel := context.WithTimeout(ctx, e.timeout)
		resp, err := e.cli.Get(rctx, p, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		cancel()
		if err != nil {
			continue
		}
		for _, kv := range resp.Kvs {
			names = append(names, strings.TrimPrefix(string(kv.Key), p))
		}
	}
	if len(names) == 0 {
		return "reconnected while it was being forgotten"
	}
	return "reached by " + strings.Join(dedupe(names), ", ") + ": disconnect it from every instance first"
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// forgottenEvent reports a tombstone to the watch's handler; isTomb says
// the key was one (reported or not: an expired one is nothing to act on).
func (w *watcher) forgottenEvent(key string, value []byte, deleted bool) (isTomb bool) {
	rest, found := strings.CutPrefix(key, w.e.forgottenRoot())
	if !found {
		return false
	}
	d, err := strconv.ParseUint(rest, 16, 64)
	if !deleted && err == nil && w.h.Forgotten != nil {
		w.h.Forgotten(d, string(value) == "true")
	}
	return true
}

// resyncForgotten reports the tombstones standing at rev after a watch
// that was away: forgetting twice is harmless, missing one is not.
func (w *watcher) resyncForgotten(rev int64) error {
	root := w.e.forgottenRoot()
	_, err := w.e.walk(root, clientv3.GetPrefixRangeEnd(root), rev, func(k string, v []byte, _ int64) error {
		w.forgottenEvent(k, v, false)
		return nil
	})
	return err
}
