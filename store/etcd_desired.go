package store

import (
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxTxnOps is the most puts and deletes in one transaction: etcd's
// default --max-txn-ops is 128 and a bigger transaction is refused.
const maxTxnOps = 128

// pageSize is how many keys one read of a walk returns: a prefix may
// hold 100k declarations, more than one response should carry.
const pageSize = 1000

func (e *Etcd) desiredRoot() string { return e.prefix + "desired/" }

func (e *Etcd) switchPrefix(dpid uint64) string {
	return fmt.Sprintf("%s%016x/", e.desiredRoot(), dpid)
}

// desiredKey is a declaration's key: the app name ends at its first "/"
// (app names have none), so the declaration's own key may hold any.
func (e *Etcd) desiredKey(c DesiredChange) string {
	return e.switchPrefix(c.DPID) + c.App + "/" + c.Key
}

// parseDesired reads a declaration back from its key and value.
func (e *Etcd) parseDesired(k string, v []byte) (DesiredChange, error) {
	rest, ok := strings.CutPrefix(k, e.desiredRoot())
	if !ok || len(rest) < 17 || rest[16] != '/' {
		return DesiredChange{}, fmt.Errorf("etcd key %s: not desired/<16 hex digits>/<app>/<key>", k)
	}
	dpid, err := strconv.ParseUint(rest[:16], 16, 64)
	if err != nil {
		return DesiredChange{}, fmt.Errorf("etcd key %s: not a datapath id: %v", k, err)
	}
	app, key, ok := strings.Cut(rest[17:], "/")
	if !ok {
		return DesiredChange{}, fmt.Errorf("etcd key %s: no app separator", k)
	}
	var flows []string
	if len(v) > 0 {
		flows = strings.Split(string(v), "\n")
	}
	return DesiredChange{DPID: dpid, App: app, Key: key, Flows: flows}, nil
}

// desiredOp is one change and the key it writes.
type desiredOp struct {
	key string
	c   DesiredChange
}

func (o desiredOp) op() clientv3.Op {
	if o.c.Delete {
		return clientv3.OpDelete(o.key)
	}
	return clientv3.OpPut(o.key, strings.Join(o.c.Flows, "\n"))
}

// desiredGroup is the changes written under one guard: one switch's, or
// every switch's ExternalApp ones (unguarded). A key appears once, with
// the batch's last change to it: etcd refuses a transaction that names
// a key twice, and the last change is the one Bolt would have left.
type desiredGroup struct {
	dpid  uint64
	ops   []desiredOp
	index map[string]int
}

func (g *desiredGroup) add(key string, c DesiredChange) {
	if i, ok := g.index[key]; ok {
		g.ops[i].c = c
		return
	}
	g.index[key] = len(g.ops)
	g.ops = append(g.ops, desiredOp{key: key, c: c})
}

// group splits a batch into the external changes and one group per
// switch, in the order the switches first appear.
func (e *Etcd) group(changes []DesiredChange) (external *desiredGroup, switches []*desiredGroup) {
	external = &desiredGroup{index: map[string]int{}}
	byDPID := map[uint64]*desiredGroup{}
	for _, c := range changes {
		g := external
		if c.App != ExternalApp {
			if g = byDPID[c.DPID]; g == nil {
				g = &desiredGroup{dpid: c.DPID, index: map[string]int{}}
				byDPID[c.DPID] = g
				switches = append(switches, g)
			}
		}
		g.add(e.desiredKey(c), c)
	}
	return external, switches
}

// SaveDesired implements Store. ExternalApp's changes are written by any
// instance. Every other change of a switch is written only while this
// instance is the switch's master, in transactions guarded by its
// election key: a change for a switch it is not master of, or whose
// mastership moved before the write, is dropped (see Dropped), not an
// error, since the new master owns that switch's declarations now.
// Large batches take several transactions; an error (etcd unreachable)
// may leave part written, which the caller's retry of the whole batch
// writes again.
func (e *Etcd) SaveDesired(changes []DesiredChange) error {
	for _, c := range changes {
		if strings.Contains(c.App, "/") {
			return fmt.Errorf("app name %q contains \"/\"", c.App)
		}
	}
	external, switches := e.group(changes)
	if err := e.saveExternal(external.ops); err != nil {
		return err
	}
	for _, g := range switches {
		if _, err := e.saveGuarded(g); err != nil {
			return err
		}
	}
	return nil
}

// saveExternal writes the shared declarations, remembering the
// revisions of its writes so the watch does not report them back.
func (e *Etcd) saveExternal(ops []desiredOp) error {
	if len(ops) == 0 {
		return nil
	}
	e.extMu.Lock()
	defer e.extMu.Unlock()
	for len(ops) > 0 {
		chunk := ops[:min(len(ops), maxTxnOps)]
		ops = ops[len(chunk):]
		ctx, cancel := e.request()
		resp, err := e.cli.Txn(ctx).Then(etcdOps(chunk)...).Commit()
		cancel()
		if err != nil {
			return e.failOps(chunk, err)
		}
		rev := resp.Header.Revision
		for i, o := range chunk {
			switch {
			case !o.c.Delete:
				e.ext[o.key] = extState{rev: rev}
			case resp.Responses[i].GetResponseDeleteRange().GetDeleted() > 0:
				e.ext[o.key] = extState{rev: rev, gone: true}
			default: // deleting nothing makes no event to wait for
				delete(e.ext, o.key)
			}
		}
	}
	return nil
}

// saveGuarded writes one switch's changes if this instance is its
// master, each transaction only while the election key is still the one
// this instance was elected with. written is false when it was not master
// (the changes are dropped and counted).
func (e *Etcd) saveGuarded(g *desiredGroup) (written bool, err error) {
	var gkey string
	var grev int64
	ok := false
	if e.guard != nil {
		gkey, grev, ok = e.guard(g.dpid)
	}
	// A key that does not exist has CreateRevision 0: a guard naming
	// none would let anyone write, so it counts as not master.
	if !ok || gkey == "" || grev <= 0 {
		e.dropped.Add(uint64(len(g.ops)))
		return false, nil
	}
	cmp := clientv3.Compare(clientv3.CreateRevision(gkey), "=", grev)
	for ops := g.ops; len(ops) > 0; {
		chunk := ops[:min(len(ops), maxTxnOps)]
		ctx, cancel := e.request()
		resp, err := e.cli.Txn(ctx).If(cmp).Then(etcdOps(chunk)...).Commit()
		cancel()
		if err != nil {
			return false, e.failOps(chunk, err)
		}
		if !resp.Succeeded {
			e.dropped.Add(uint64(len(ops)))
			return false, nil
		}
		ops = ops[len(chunk):]
	}
	return true, nil
}

func etcdOps(chunk []desiredOp) []clientv3.Op {
	out := make([]clientv3.Op, len(chunk))
	for i, o := range chunk {
		out[i] = o.op()
	}
	return out
}

// failOps names the first key of a transaction that failed.
func (e *Etcd) failOps(chunk []desiredOp, err error) error {
	key := chunk[0].key
	if len(chunk) > 1 {
		key = fmt.Sprintf("%s and %d more", key, len(chunk)-1)
	}
	return e.fail(key, err)
}

// Dropped counts the changes SaveDesired did not write because this
// instance was not (or no longer) the switch's master.
func (e *Etcd) Dropped() uint64 { return e.dropped.Load() }

// LoadDesired implements Store: every declaration, read as of one
// revision (a consistent snapshot, like Bolt's), a page at a time.
func (e *Etcd) LoadDesired(fn func(DesiredChange) error) error {
	return e.loadDesired(e.desiredRoot(), true, fn)
}

// LoadDesiredSwitch calls fn for every declaration of one switch: a new
// master reads them at takeover.
func (e *Etcd) LoadDesiredSwitch(dpid uint64, fn func(DesiredChange) error) error {
	return e.loadDesired(e.switchPrefix(dpid), false, fn)
}

// loadDesired walks the declarations under prefix, as of one revision,
// and tells the watch which external ones exist, so that it neither
// repeats what was loaded nor misses a deletion after a compaction. full
// says prefix is every declaration.
func (e *Etcd) loadDesired(prefix string, full bool, fn func(DesiredChange) error) error {
	loaded := map[string]int64{}
	rev, err := e.walk(prefix, clientv3.GetPrefixRangeEnd(prefix), 0, func(k string, v []byte, mod int64) error {
		c, err := e.parseDesired(k, v)
		if err != nil {
			return err
		}
		if c.App == ExternalApp {
			loaded[k] = mod
		}
		return fn(c)
	})
	e.extMu.Lock()
	defer e.extMu.Unlock()
	e.learnExternal(loaded, rev, err == nil && full)
	return err
}

// learnExternal merges the external declarations a load read as
// of rev. complete says the read was of every declaration, so a key it
// lacks written at or before rev is gone, and every event up to rev is
// known. The caller holds extMu.
func (e *Etcd) learnExternal(read map[string]int64, rev int64, complete bool) {
	for k, mod := range read {
		if mod > e.ext[k].rev {
			e.ext[k] = extState{rev: mod}
		}
	}
	if !complete {
		return
	}
	for k, st := range e.ext {
		if _, ok := read[k]; !ok && st.rev <= rev {
			delete(e.ext, k)
		}
	}
	e.extSeen = max(e.extSeen, rev)
}

// walk calls fn for every key in [start, end) as of revision rev (0:
// the current one, which it returns), a page per request.
func (e *Etcd) walk(start, end string, rev int64, fn func(k string, v []byte, mod int64) error) (int64, error) {
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(pageSize)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		ctx, cancel := e.request()
		resp, err := e.cli.Get(ctx, start, opts...)
		cancel()
		if err != nil {
			return rev, e.fail(start, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(string(kv.Key), kv.Value, kv.ModRevision); err != nil {
				return rev, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
