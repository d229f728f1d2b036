package controller

import (
	"sort"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
)

// sender is the part of an OpenFlow connection the installer needs.
type sender interface {
	Send(m openflow.Outgoing) (uint32, error)
}

// installed is a flow Loom has sent to a switch, and who asked for it.
type installed struct {
	owner owner
	flow  flow.Flow
}

// installer keeps one switch's flow table in line with the desired state
// by sending the difference between what it last sent and what is desired
// now. It remembers the xid of every flow-mod it sent recently, so an
// error from the switch names the flow and the app that caused it.
//
// It trusts that the switch holds what was sent; reading the switch's
// table back and repairing drift belongs to the reconciler that replaces
// this one.
type installer struct {
	conn    sender
	table   map[flow.Key]installed
	byOwner map[owner][]flow.Key
	sent    *xidRing
}

func newInstaller(conn sender) *installer {
	return &installer{conn: conn, table: make(map[flow.Key]installed), byOwner: make(map[owner][]flow.Key), sent: newXidRing(4096)}
}

// apply sends what it takes for each owner in changes to have exactly its
// listed flows (none: withdrawn). Owners are processed in a fixed order so
// runs are reproducible. It returns the number of flow-mods sent.
func (in *installer) apply(changes map[owner][]flow.Flow) (int, error) {
	owners := make([]owner, 0, len(changes))
	for o := range changes {
		owners = append(owners, o)
	}
	sort.Slice(owners, func(i, j int) bool { return owners[i].String() < owners[j].String() })
	sent := 0
	for _, o := range owners {
		n, err := in.applyOwner(o, changes[o])
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (in *installer) applyOwner(o owner, flows []flow.Flow) (int, error) {
	sent := 0
	want := make(map[flow.Key]bool, len(flows))
	for _, f := range flows {
		want[f.Key()] = true
	}
	// Withdraw what o had and no longer wants, unless another owner has
	// since claimed that key.
	for _, k := range in.byOwner[o] {
		if want[k] {
			continue
		}
		cur, ok := in.table[k]
		if !ok || cur.owner != o {
			continue
		}
		if err := in.send(o, cur.flow, openflow.FlowDeleteStrict); err != nil {
			return sent, err
		}
		sent++
		delete(in.table, k)
	}
	keys := make([]flow.Key, 0, len(flows))
	for _, f := range flows {
		k := f.Key()
		keys = append(keys, k)
		if cur, ok := in.table[k]; ok && cur.flow.Cookie == f.Cookie && cur.flow.SameBehaviour(f) {
			continue
		}
		if err := in.send(o, f, openflow.FlowAdd); err != nil {
			return sent, err
		}
		sent++
		in.table[k] = installed{owner: o, flow: f}
	}
	if len(keys) == 0 {
		delete(in.byOwner, o)
	} else {
		in.byOwner[o] = keys
	}
	return sent, nil
}

func (in *installer) send(o owner, f flow.Flow, cmd uint8) error {
	xid, err := in.conn.Send(f.FlowMod(cmd))
	if err == nil {
		in.sent.put(xid, sentFlow{owner: o, flow: f, cmd: cmd})
	}
	return err
}

// reset forgets what was sent: the switch reconnected.
func (in *installer) reset() {
	in.table = make(map[flow.Key]installed)
	in.byOwner = make(map[owner][]flow.Key)
}

// sentFlow is a flow-mod on its way, kept to explain a later error.
type sentFlow struct {
	owner owner
	flow  flow.Flow
	cmd   uint8
}

// xidRing remembers the last n flow-mods by xid.
type xidRing struct {
	xids  []uint32
	flows map[uint32]sentFlow
	next  int
}

func newXidRing(n int) *xidRing {
	return &xidRing{xids: make([]uint32, n), flows: make(map[uint32]sentFlow, n)}
}

func (r *xidRing) put(xid uint32, s sentFlow) {
	delete(r.flows, r.xids[r.next])
	r.xids[r.next] = xid
	r.flows[xid] = s
	r.next = (r.next + 1) % len(r.xids)
}

func (r *xidRing) get(xid uint32) (sentFlow, bool) {
	s, ok := r.flows[xid]
	return s, ok
}
