package tunnel

import (
	"maps"
	"slices"
)

// Incremental recompute. A host joining a 1,000-host mesh adds about ten
// remote MACs to each other switch, yet recomputing every switch's view
// regenerates its ~10,000 mesh flows. Instead each new index is compared
// once with the one before it (delta), and each switch applies only the
// changes since the index it last reflected: the MACs whose locations
// changed, and every MAC of a hypervisor whose address changed or that
// came or went from the switch's view of who is alive. The full recompute
// stays the reference (Flows over a whole view): it runs whenever a chain
// of deltas does not reach back to the switch's last state, the policy
// changed, or the switch itself changed (its hypervisor, tunnel port or
// networks), and a test compares both on random sequences of changes.

// delta is what changed from one index to the next.
type delta struct {
	from, to uint64 // index seqs
	full     bool   // nothing carries over (the policy changed)
	macs     map[vmac]bool
	// members says who is in the mesh, where, or in which networks
	// changed: every switch's members view (its flooding) is rebuilt.
	members bool
}

// historyLen bounds the deltas kept: a switch further behind recomputes.
const historyLen = 64

// diff is the delta from old to x.
func diff(old, x *index, samePolicy bool) delta {
	d := delta{from: old.seq, to: x.seq, full: !samePolicy, macs: map[vmac]bool{}}
	if d.full {
		return d
	}
	d.members = !slices.Equal(old.hvs, x.hvs)
	for _, hv := range x.hvs {
		if d.members {
			break
		}
		d.members = old.ips[hv] != x.ips[hv] || !slices.Equal(old.vidList[hv], x.vidList[hv])
	}
	for vm, at := range x.loc {
		if !slices.Equal(old.loc[vm], at) {
			d.macs[vm] = true
		}
	}
	for vm := range old.loc {
		if _, ok := x.loc[vm]; !ok {
			d.macs[vm] = true
		}
	}
	// A hypervisor whose address changed moves all its MACs' flows.
	for hv := range x.ips {
		if old.ips[hv] != x.ips[hv] {
			addMACsOf(d.macs, old, hv)
			addMACsOf(d.macs, x, hv)
		}
	}
	for hv := range old.ips {
		if _, ok := x.ips[hv]; !ok {
			addMACsOf(d.macs, old, hv)
		}
	}
	return d
}

// addMACsOf adds every MAC of hv's ports in x to set.
func addMACsOf(set map[vmac]bool, x *index, hv string) {
	for _, vm := range x.macs[hv] {
		set[vm] = true
	}
}

// history keeps the last deltas, oldest first.
type history struct{ ds []delta }

func (h *history) add(d delta) {
	h.ds = append(h.ds, d)
	if len(h.ds) > historyLen {
		h.ds = slices.Delete(h.ds, 0, len(h.ds)-historyLen)
	}
}

// since merges the deltas from index seq from to index seq to (the MACs,
// and whether the members changed); ok is false when they do not chain
// (too old, or a full one between).
func (h *history) since(from, to uint64) (macs map[vmac]bool, members, ok bool) {
	macs = map[vmac]bool{}
	if from == to {
		return macs, false, true
	}
	at := from
	for _, d := range h.ds {
		if d.from != at {
			continue
		}
		if d.full {
			return nil, false, false
		}
		maps.Copy(macs, d.macs)
		members = members || d.members
		at = d.to
		if at == to {
			return macs, members, true
		}
	}
	return nil, false, false
}
