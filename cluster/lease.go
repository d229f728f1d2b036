package cluster

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseLoop keeps this instance's lease: one epoch per lease, a new one
// when the old expired (a partition longer than the TTL). Between epochs
// the instance masters nothing.
func (n *Node) leaseLoop(ctx context.Context) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := n.epoch(ctx)
		if ctx.Err() != nil {
			return
		}
		n.log.WithError(err).Warn("cluster lease ended; this instance masters no switch until it has a new one")
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, n.cfg.Lease)
	}
}

var errLeaseLost = errors.New("lease expired or revoked")

// epoch grants a lease, claims the instance's name on it and renews it
// until it is lost or the node closes (then it is revoked, handing the
// switches over at once).
func (n *Node) epoch(ctx context.Context) error {
	gctx, cancel := context.WithTimeout(ctx, n.cfg.Lease)
	lr, err := n.cli.Grant(gctx, int64(n.cfg.Lease/time.Second))
	cancel()
	if err != nil {
		return err
	}
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	acks, err := n.cli.KeepAlive(kctx, lr.ID)
	if err != nil {
		return err
	}
	claimed, err := n.claimName(ctx, lr.ID, acks)
	if err != nil {
		n.revoke(lr.ID)
		return err
	}
	n.mu.Lock()
	n.lease, n.lastAck, n.writeErr, n.epochRev = lr.ID, time.Now(), nil, claimed
	n.published = map[string]bool{n.k.instanceKey(n.cfg.Self.Name): true}
	n.mu.Unlock()
	n.log.WithField("lease", n.cfg.Lease).Info("joined the cluster")
	n.poke()
	defer func() {
		n.mu.Lock()
		n.lease = 0
		n.published = map[string]bool{}
		n.mu.Unlock()
		n.poke()
	}()
	for {
		select {
		case <-ctx.Done():
			n.revoke(lr.ID)
			return ctx.Err()
		case _, ok := <-acks:
			if !ok {
				return errLeaseLost
			}
			n.mu.Lock()
			wasLive := n.liveLocked(time.Now())
			n.lastAck = time.Now()
			n.mu.Unlock()
			if !wasLive {
				n.poke()
			}
		}
	}
}

// claimName writes the instance key on the lease, only when no other
// lease holds it: a previous run of this instance killed a moment ago
// (its lease runs out within a TTL), or another loomd given the same
// name, which must not be let in to master the same switches. It returns
// the revision of the write: every candidacy of this lease is later.
func (n *Node) claimName(ctx context.Context, lease clientv3.LeaseID, acks <-chan *clientv3.LeaseKeepAliveResponse) (int64, error) {
	key := n.k.instanceKey(n.cfg.Self.Name)
	warned := false
	for {
		tctx, cancel := context.WithTimeout(ctx, n.cfg.Lease)
		resp, err := n.cli.Txn(tctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, n.instanceValue(), clientv3.WithLease(lease))).Commit()
		cancel()
		if err != nil {
			return 0, err
		}
		if resp.Succeeded {
			return resp.Header.Revision, nil
		}
		if !warned {
			n.log.Warn("another lease holds this instance's name (a run of it killed a moment ago, or a second loomd " +
				"with the same --instance): waiting for it to expire")
			warned = true
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case _, ok := <-acks:
			if !ok {
				return 0, errLeaseLost
			}
		case <-time.After(n.cfg.Lease / 3):
		}
	}
}

func (n *Node) revoke(id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Best effort: a lease that cannot be revoked runs out by itself.
	_, _ = n.cli.Revoke(ctx, id)
}
