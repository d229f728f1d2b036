package cluster

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchLoop keeps the model: one read of the cluster's keys, then a watch
// from just after it; a broken or compacted watch starts over.
func (n *Node) watchLoop(ctx context.Context) {
	prefix := n.k.prefix
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := n.follow(ctx, prefix); err != nil && ctx.Err() == nil {
			n.log.WithError(err).Debug("cluster watch restarts")
		}
		n.mu.Lock()
		n.fresh = false
		n.mu.Unlock()
		n.poke()
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, n.cfg.Lease)
	}
}

func (n *Node) follow(ctx context.Context, prefix string) error {
	rctx, cancel := context.WithTimeout(ctx, n.cfg.Lease)
	resp, err := n.cli.Get(rctx, prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return err
	}
	now := time.Now()
	m := newModel(prefix)
	for _, kv := range resp.Kvs {
		m.put(string(kv.Key), kv.Value, kv.CreateRevision, now)
	}
	n.mu.Lock()
	keepSeen(m, n.m)
	n.m, n.fresh = m, true
	n.mu.Unlock()
	n.poke()
	// WithRequireLeader: a member cut off from its quorum ends the watch
	// instead of leaving the model silently stale.
	wch := n.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	for wr := range wch {
		if err := wr.Err(); err != nil {
			return err
		}
		now := time.Now()
		n.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				n.m.del(string(ev.Kv.Key))
			} else {
				n.m.put(string(ev.Kv.Key), ev.Kv.Value, ev.Kv.CreateRevision, now)
			}
		}
		n.mu.Unlock()
		n.poke()
	}
	return ctx.Err()
}

// keepSeen carries over when candidacies were first seen, so a re-read
// does not restart the rebalancing hysteresis.
func keepSeen(next, prev *model) {
	for dpid, cs := range next.cands {
		for i, c := range cs {
			if old, ok := prev.candidacyOf(dpid, c.instance); ok && old.rev == c.rev {
				cs[i].seen = old.seen
			}
		}
	}
}
