package tunnel

import (
	"maps"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

// declaredMesh is what a switch's declarations reflect (delta.go): the
// index, the policy, and the parts of its view a change of which makes
// the next refresh a full one.
type declaredMesh struct {
	seq   uint64
	pol   *network.Policy
	local string
	port  uint32
	here  map[uint16]bool
	hvs   []string // the index's mesh hypervisors, by name
	live  live     // which of them counted alive
}

// refreshWith declares dpid's mesh flows under index x: only what changed
// since the index it last reflected when that is known, else all.
func (a *App) refreshWith(ctx apps.Context, dpid uint64, x *index, p *network.Policy, l live) {
	local, port := x.hvOf[dpid], x.tunnel[dpid]
	if local == "" || port == 0 || !x.ips[local].IsValid() {
		local, port = "", 0 // in no mesh (what the full recompute declares): the next refresh that is in one is full
	}
	now := &declaredMesh{seq: x.seq, pol: p, local: local, port: port, here: x.byDPID[dpid], hvs: x.hvs, live: l}
	a.mu.Lock()
	last := a.declared[dpid]
	kept, had := a.meshes[dpid]
	a.mu.Unlock()
	changed, members, ok := a.changedSince(last, now)
	m, rebuilt := kept, true
	switch {
	case !ok:
		m = x.members(dpid, l)
		a.Replace(ctx, dpid, Flows(x.view(dpid, l), p))
	default:
		lives := flipped(last, now, func(hv string) { addMACsOf(changed, x, hv) })
		if rebuilt = members || lives || !had; rebuilt {
			m = x.members(dpid, l)
		}
		a.apply(ctx, dpid, x, p, m, l, changed)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.declared[dpid] = now
	if rebuilt {
		a.meshes[dpid] = m
		a.sums[dpid] = m.sum()
	}
}

// flipped calls fn for every hypervisor alive in one of last and now but
// not the other (one that joined or left the mesh too), and says whether
// there was one: both list them by name, so one merge walk does.
func flipped(last, now *declaredMesh, fn func(hv string)) (flips bool) {
	i, j := 0, 0
	call := func(hv string) { flips = true; fn(hv) }
	for i < len(last.hvs) || j < len(now.hvs) {
		switch {
		case j == len(now.hvs) || i < len(last.hvs) && last.hvs[i] < now.hvs[j]:
			if last.live[i] {
				call(last.hvs[i])
			}
			i++
		case i == len(last.hvs) || now.hvs[j] < last.hvs[i]:
			if now.live[j] {
				call(now.hvs[j])
			}
			j++
		default:
			if last.live[i] != now.live[j] {
				call(now.hvs[j])
			}
			i++
			j++
		}
	}
	return flips
}

// changedSince returns the MACs changed between what last reflects and
// now, and whether the members did, or ok=false when the switch must be
// recomputed in full: no last, another policy, the switch in no mesh
// (port 0, see refreshWith), its own hypervisor, tunnel port or networks
// changed, or the deltas between do not chain.
func (a *App) changedSince(last, now *declaredMesh) (macs map[vmac]bool, members, ok bool) {
	if last == nil || now.port == 0 || last.pol != now.pol || last.local != now.local || last.port != now.port ||
		!maps.Equal(last.here, now.here) {
		return nil, false, false
	}
	a.idxMu.Lock()
	defer a.idxMu.Unlock()
	return a.hist.since(last.seq, now.seq)
}

// apply declares or withdraws the remote flow of every changed MAC of
// the switch's networks.
func (a *App) apply(ctx apps.Context, dpid uint64, x *index, p *network.Policy, m mesh, l live, changed map[vmac]bool) {
	for vm := range changed {
		if !m.here[vm.vid] {
			continue
		}
		n, known := p.Network(vm.vid)
		ip, there := x.where(vm, m.local, l)
		if known && n.VNI != 0 && there {
			a.Set(ctx, dpid, remoteKey(vm), remoteFlow(vm, n.VNI, ip, m.port)...)
		} else {
			a.Delete(ctx, dpid, remoteKey(vm))
		}
	}
}

// Restore implements apps.Restorer: keys of an earlier run (or another
// instance's) are known, and the switch's next refresh is a full one, so
// it withdraws those no longer wanted.
func (a *App) Restore(dpid uint64, key string, flows []flow.Flow) {
	a.Declarations.Restore(dpid, key, flows)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.declared, dpid)
}
