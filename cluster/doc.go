// Package cluster is how several loomd instances share the switches
// through etcd: who is alive, who reaches which switch, and, per switch,
// which one instance is its master.
//
// Keys, under the cluster prefix (default /loom/cluster/), all on the
// instance's lease, so they vanish when it dies:
//
//	instances/NAME              the instance's addresses (JSON)
//	reach/DPID/NAME             NAME has a live session to switch DPID
//	master/DPID/NAME            NAME's candidacy for DPID's mastership
//
// Mastership is the election scheme of etcd's concurrency.Election: the
// candidate key with the lowest create revision leads, and its create
// revision is the leader's generation id, which only grows from one
// leader to the next (a later key has a higher revision), so the switch's
// own check (OFPRRFC_STALE) fences a deposed master. The keys are written
// and read here directly, not through concurrency.Election, so that one
// watch of the prefix serves a thousand switches instead of a watch per
// campaign.
//
// Who campaigns: per switch, rendezvous hashing over the live instances
// that reach it names a preferred one, and only it puts a candidacy (or,
// when a switch has had no leader for a lease, anyone reaching it). A
// master that is not preferred hands over once the preferred instance's
// candidacy has stood for RebalanceAfter (hysteresis: an instance that
// flaps does not move switches), by deleting its own key: the waiting
// candidate leads at once, with no gap.
//
// Stepping down: an instance whose lease has not been renewed for two
// thirds of its TTL stops being master of everything at once, before the
// lease can expire and another instance win.
package cluster
