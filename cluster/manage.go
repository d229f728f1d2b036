package cluster

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// manageLoop decides, at every change and every tenth of a lease, which
// keys this instance wants (its name, the switches it reaches, its
// candidacies), writes the difference, and tells each session its role.
func (n *Node) manageLoop(ctx context.Context) {
	tick := time.NewTicker(n.cfg.Lease / 10)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-tick.C:
		}
		plan := n.evaluate(time.Now())
		plan.tell()
		if len(plan.ops) > 0 {
			n.write(ctx, plan)
		}
	}
}

// keyOp is one key to write (value) or delete on the lease.
type keyOp struct {
	key, value string
	del        bool
}

type plan struct {
	lease clientv3.LeaseID
	ops   []keyOp
	notes []note
}

type note struct {
	roles func(Role)
	role  Role
}

func (p plan) tell() {
	for _, nt := range p.notes {
		nt.roles(nt.role)
	}
}

// evaluate computes the keys to change and the roles to tell.
func (n *Node) evaluate(now time.Time) plan {
	n.mu.Lock()
	defer n.mu.Unlock()
	live := n.liveLocked(now) && n.fresh && !n.closing
	p := plan{lease: n.lease}
	want := map[string]string{}
	if n.lease != 0 {
		self := n.k.instanceKey(n.cfg.Self.Name)
		want[self] = n.instanceValue()
		if _, seen := n.m.instances[n.cfg.Self.Name]; !seen && n.fresh && n.published[self] && now.Sub(n.announced) > n.cfg.Lease/3 {
			// Deleted behind this instance's back (an operator's cleanup):
			// without it the others count this one dead. Write it again.
			delete(n.published, self)
		}
		for dpid, l := range n.local {
			if !l.gone.IsZero() && now.Sub(l.gone) >= n.cfg.Lease {
				delete(n.local, dpid)
				continue
			}
			want[n.k.reachKey(dpid, n.cfg.Self.Name)] = ""
			if live && n.wantCandidacy(dpid, now) {
				want[n.k.masterKey(dpid, n.cfg.Self.Name)] = n.cfg.Self.Name
			}
		}
		for k, v := range want {
			if !n.published[k] {
				p.ops = append(p.ops, keyOp{key: k, value: v})
			}
		}
		for k := range n.published {
			if _, ok := want[k]; !ok {
				p.ops = append(p.ops, keyOp{key: k, del: true})
			}
		}
	}
	for dpid, l := range n.local {
		if l.roles == nil {
			continue // its session ended
		}
		r := n.roleLocked(dpid, live)
		if !l.told || r.Mine != l.sent.Mine || r.Generation != l.sent.Generation || r.Holder != l.sent.Holder {
			l.sent, l.told = r, true
			p.notes = append(p.notes, note{l.roles, r})
		}
	}
	for dpid := range n.noLeader {
		if _, ok := n.local[dpid]; !ok {
			delete(n.noLeader, dpid)
		}
	}
	for dpid := range n.handing {
		if _, ok := n.local[dpid]; !ok {
			delete(n.handing, dpid)
		}
	}
	return p
}

// wantCandidacy says whether this instance should stand for dpid. n.mu is held.
func (n *Node) wantCandidacy(dpid uint64, now time.Time) bool {
	me := n.cfg.Self.Name
	pref := n.m.preferredFor(dpid)
	lead, hasLeader := n.m.leader(dpid)
	if hasLeader {
		delete(n.noLeader, dpid)
	} else if _, ok := n.noLeader[dpid]; !ok {
		n.noLeader[dpid] = now
	}
	switch {
	case hasLeader && lead.instance == me:
		// Hand over only to a preferred instance whose candidacy has
		// stood long enough: it is waiting, so it leads the moment this
		// key goes.
		if pref != "" && pref != me {
			if pc, ok := n.m.candidacyOf(dpid, pref); ok && now.Sub(pc.seen) >= n.cfg.RebalanceAfter {
				if !n.handing[dpid] {
					n.log.WithFields(map[string]any{"dpid": fmt.Sprintf("0x%016x", dpid), "to": pref}).Info("handing the switch over to its preferred instance")
				}
				// Not master from now on: the session stops writing
				// before the key that lets the other lead is deleted.
				n.handing[dpid] = true
				return false
			}
		}
		delete(n.handing, dpid) // the preferred one went away meanwhile: stay
		return true
	case pref == me:
		return true
	case !hasLeader:
		// The preferred instance has not stood for a lease: anyone who
		// reaches the switch may.
		return now.Sub(n.noLeader[dpid]) >= n.cfg.Lease
	}
	return false
}

// roleLocked is this instance's role for dpid. A candidacy counts only
// when it was written under the current lease (not left by an earlier
// run) and the lease is live. n.mu is held.
func (n *Node) roleLocked(dpid uint64, live bool) Role {
	c, ok := n.m.leader(dpid)
	if !ok {
		return Role{Why: "no master elected yet"}
	}
	r := Role{Generation: uint64(c.rev), Holder: c.instance}
	switch {
	case c.instance != n.cfg.Self.Name:
		r.Why = "instance " + c.instance + " is master"
		delete(n.handing, dpid)
	case n.handing[dpid]:
		r.Why = "handing over to the switch's preferred instance"
	case c.rev <= n.epochRev:
		r.Why = "this instance's candidacy is from its previous lease: waiting for etcd to show the new one"
	case live && n.published[c.key]:
		r.Mine, r.Why = true, fmt.Sprintf("elected master (generation %d)", c.rev)
	default:
		r.Why = "lost contact with etcd: stepping down before the lease can run out"
	}
	return r
}

// write applies ops in transactions of at most 128 (etcd's default
// --max-txn-ops); what fails is retried at the next evaluation.
func (n *Node) write(ctx context.Context, p plan) {
	for start := 0; start < len(p.ops); start += maxTxnOps {
		batch := p.ops[start:min(start+maxTxnOps, len(p.ops))]
		var ops []clientv3.Op
		for _, o := range batch {
			if o.del {
				ops = append(ops, clientv3.OpDelete(o.key))
			} else {
				ops = append(ops, clientv3.OpPut(o.key, o.value, clientv3.WithLease(p.lease)))
			}
		}
		tctx, cancel := context.WithTimeout(ctx, n.cfg.Lease/3)
		_, err := n.cli.Txn(tctx).Then(ops...).Commit()
		cancel()
		n.mu.Lock()
		if err != nil {
			n.writeErr = err
			n.mu.Unlock()
			return
		}
		n.writeErr = nil
		if n.lease == p.lease {
			for _, o := range batch {
				if o.del {
					delete(n.published, o.key)
				} else {
					n.published[o.key] = true
					if o.key == n.k.instanceKey(n.cfg.Self.Name) {
						n.announced = time.Now()
					}
				}
			}
		}
		n.mu.Unlock()
	}
}

const maxTxnOps = 128

// watchdog steps down on its own clock: the manage loop may be in a
// write to an etcd that does not answer, which must not delay it.
func (n *Node) watchdog(ctx context.Context) {
	tick := time.NewTicker(n.cfg.Lease / 10)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n.mu.Lock()
		live := n.liveLocked(time.Now())
		n.mu.Unlock()
		if !live {
			n.stepDownAll("lost contact with etcd: stepping down before the lease can run out")
		}
	}
}

// stepDownAll tells every session it is master of nothing.
func (n *Node) stepDownAll(why string) {
	n.mu.Lock()
	var notes []note
	for _, l := range n.local {
		if l.sent.Mine && l.roles != nil {
			l.sent = Role{Generation: l.sent.Generation, Why: why}
			notes = append(notes, note{l.roles, l.sent})
		}
	}
	n.mu.Unlock()
	plan{notes: notes}.tell()
}
