package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
//
// The declarations and directions go in one transaction with the
// tombstone (a range delete per app), so a switch that reconnects
// meanwhile loses nothing: the compare refuses all of it. The hosts
// follow in transactions of their own (there may be more than one
// transaction holds); a refusal there leaves some hosts, which the
// reconnected switch's master publishes again anyway.
func (e *Etcd) ForgetSwitch(ctx context.Context, dpid uint64, all bool) (int, error) {
	if e.reached == nil {
		return 0, fmt.Errorf("%w: this store cannot tell which instances reach it", ErrSwitchReached)
	}
	apps, links, hosts, err := e.switchKeys(dpid, all)
	if err != nil {
		return 0, err
	}
	var cmps []clientv3.Cmp
	for _, p := range e.reached(dpid) {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(p), "=", 0).WithPrefix())
	}
	// The first transaction: one range delete per app, the directions,
	// the tombstone; hosts fill what room is left.
	first := make([]clientv3.Op, 0, maxTxnOps)
	for _, app := range apps {
		first = append(first, clientv3.OpDelete(e.switchPrefix(dpid)+app+"/", clientv3.WithPrefix()))
	}
	for _, k := range links {
		first = append(first, clientv3.OpDelete(k))
	}
	if len(first) >= maxTxnOps {
		return 0, fmt.Errorf("switch 0x%016x: %d apps and probe directions to forget at once, more than one etcd transaction holds (%d)",
			dpid, len(first), maxTxnOps-1)
	}
	rest := hosts
	room := maxTxnOps - 1 - len(first)
	for _, k := range rest[:min(room, len(rest))] {
		first = append(first, clientv3.OpDelete(k))
	}
	rest = rest[min(room, len(rest)):]
	lctx, cancel := context.WithTimeout(ctx, e.timeout)
	lease, err := e.cli.Grant(lctx, forgottenTTL)
	cancel()
	if err != nil {
		return 0, e.fail(e.forgottenKey(dpid), err)
	}
	first = append(first, clientv3.OpPut(e.forgottenKey(dpid), strconv.FormatBool(all), clientv3.WithLease(lease.ID)))
	e.extMu.Lock()
	defer e.extMu.Unlock()
	done, rev, ok, err := e.forgetTxn(ctx, dpid, cmps, first)
	if err != nil || !ok {
		e.revoke(lease.ID)
		if err == nil {
			err = fmt.Errorf("%w 0x%016x: %s", ErrSwitchReached, dpid, e.reachers(ctx, dpid))
		}
		return 0, err
	}
	if all {
		e.forgetExternal(dpid, rev)
	}
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), maxTxnOps)]
		rest = rest[len(chunk):]
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, k := range chunk {
			ops = append(ops, clientv3.OpDelete(k))
		}
		n, _, ok, err := e.forgetTxn(ctx, dpid, cmps, ops)
		if err != nil || !ok {
			return done, nil // forgotten; the hosts left are its next master's to publish again
		}
		done += n
	}
	return done, nil
}

// forgetTxn runs one of ForgetSwitch's transactions and counts the keys
// it deleted, at revision rev; ok is false when an instance reaches the
// switch.
func (e *Etcd) forgetTxn(ctx context.Context, dpid uint64, cmps []clientv3.Cmp, ops []clientv3.Op) (n int, rev int64, ok bool, err error) {
	rctx, cancel := context.WithTimeout(ctx, e.timeout)
	resp, err := e.cli.Txn(rctx).If(cmps...).Then(ops...).Commit()
	cancel()
	if err != nil {
		return 0, 0, false, e.fail(fmt.Sprintf("the keys of switch 0x%016x", dpid), err)
	}
	if !resp.Succeeded {
		return 0, 0, false, nil
	}
	for _, r := range resp.Responses {
		if d := r.GetResponseDeleteRange(); d != nil {
			n += int(d.Deleted)
		}
	}
	return n, resp.Header.Revision, true, nil
}

// forgetExternal records the deletion of dpid's external declarations
// at rev as this store's own, so the watch does not report it back. The
// caller holds extMu.
func (e *Etcd) forgetExternal(dpid uint64, rev int64) {
	prefix := e.switchPrefix(dpid) + ExternalApp + "/"
	for k, st := range e.ext {
		if strings.HasPrefix(k, prefix) && !st.gone {
			e.ext[k] = extState{rev: rev, gone: true}
		}
	}
}

// revoke drops a tombstone lease that was not used.
func (e *Etcd) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	_, _ = e.cli.Revoke(ctx, id) // it expires anyway
}

func (e *Etcd) forgottenKey(dpid uint64) string {
	return fmt.Sprintf("%s%016x", e.forgottenRoot(), dpid)
}

// switchKeys lists what ForgetSwitch deletes: the apps with declarations
// on dpid (all but the API's unless all), the probe directions into or
// out of it, and the hosts seen on it.
func (e *Etcd) switchKeys(dpid uint64, all bool) (apps, links, hosts []string, err error) {
	seen := map[string]bool{}
	_, err = e.walk(e.switchPrefix(dpid), clientv3.GetPrefixRangeEnd(e.switchPrefix(dpid)), 0, func(k string, v []byte, _ int64) error {
		c, err := e.parseDesired(k, v)
		if err != nil {
			return nil // not a declaration's key: not Loom's to delete
		}
		if (all || c.App != ExternalApp) && !seen[c.App] {
			seen[c.App] = true
			apps = append(apps, c.App)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	root := e.observedRoot(ObservedHosts)
	_, err = e.walk(root, clientv3.GetPrefixRangeEnd(root), 0, func(k string, v []byte, _ int64) error {
		var h struct {
			DPID uint64 `json:"dpid"`
		}
		if json.Unmarshal(v, &h) == nil && h.DPID == dpid {
			hosts = append(hosts, k)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	root = e.observedRoot(ObservedLinks)
	_, err = e.walk(root, clientv3.GetPrefixRangeEnd(root), 0, func(k string, _ []byte, _ int64) error {
		if from, to, ok := directionDPIDs(strings.TrimPrefix(k, root)); ok && (from == dpid || to == dpid) {
			links = append(links, k)
		}
		return nil
	})
	return apps, links, hosts, err
}

// directionDPIDs reads the two datapath ids of a direction's key
// (0xFROM:PORT>0xTO:PORT, hex in any case).
func directionDPIDs(k string) (from, to uint64, ok bool) {
	f, t, found := strings.Cut(k, ">")
	if !found {
		return 0, 0, false
	}
	dpid := func(end string) (uint64, bool) {
		d, _, found := strings.Cut(end, ":")
		d, hex := strings.CutPrefix(d, "0x")
		if !found || !hex {
			return 0, false
		}
		v, err := strconv.ParseUint(d, 16, 64)
		return v, err == nil
	}
	from, okF := dpid(f)
	to, okT := dpid(t)
	return from, to, okF && okT
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
	return "reached by " + strings.Join(slices.Compact(slices.Sorted(slices.Values(names))), ", ") + ": disconnect it from every instance first"
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
