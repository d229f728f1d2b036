package apps

import (
	"sort"

	"github.com/loomsdn/loom/flow"
)

// Declared tracks the keys an app that recomputes whole switches (vlan,
// acl) has declared, so a recompute can withdraw the keys it no longer
// wants. Its methods run on the switch's goroutine; distinct switches
// touch distinct entries, guarded by the caller.
type Declared map[uint64]map[string]bool

// Replace declares exactly decl on dpid: every key in it is Set (a no-op
// when unchanged) and every key declared before but absent is Deleted.
func (d Declared) Replace(ctx Context, dpid uint64, decl map[string][]flow.Flow) {
	old := d[dpid]
	keys := make(map[string]bool, len(decl))
	for k := range decl {
		keys[k] = true
	}
	d[dpid] = keys
	for k := range old {
		if !keys[k] {
			ctx.Delete(dpid, k)
		}
	}
	sorted := make([]string, 0, len(decl))
	for k := range decl {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		ctx.Set(dpid, k, decl[k]...)
	}
}
