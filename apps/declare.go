package apps

import (
	"fmt"
	"sort"
	"strings"
	"sync"

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

// Restored records a key an earlier run declared (apps.Restorer), so the
// first recompute after a restart withdraws it when it is no longer
// wanted: a policy changed while loomd was down must not leave the old
// rule's flows desired for ever.
// The controller's table-miss keys are the controller's, though filed
// under the app that owns the table: they are not the app's to withdraw.
func (d Declared) Restored(dpid uint64, key string) {
	if IsTableMissKey(key) {
		return
	}
	if d[dpid] == nil {
		d[dpid] = map[string]bool{}
	}
	d[dpid][key] = true
}

// Forget drops a switch's keys (apps.Forgetter).
func (d Declared) Forget(dpid uint64) { delete(d, dpid) }

// TableMissKey is the key the controller declares a table's miss flow
// under, in the name of the app that owns the table.
func TableMissKey(table uint8) string { return fmt.Sprintf("%s%d", tableMissPrefix, table) }

// IsTableMissKey says whether key is a TableMissKey.
func IsTableMissKey(key string) bool { return strings.HasPrefix(key, tableMissPrefix) }

const tableMissPrefix = "table-miss/"

// Declarations is what an app that recomputes whole switches embeds: it
// tracks the keys declared per switch (Replace) and so gives the app
// apps.Restorer (keys of an earlier run are known again, and withdrawn by
// the first recompute that no longer wants them) and apps.Forgetter. Safe
// for concurrent use.
type Declarations struct {
	mu   sync.Mutex
	keys Declared
}

// Replace declares exactly decl on dpid (see Declared.Replace).
func (d *Declarations) Replace(ctx Context, dpid uint64, decl map[string][]flow.Flow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = Declared{}
	}
	d.keys.Replace(ctx, dpid, decl)
}

// Set declares one key on dpid, as a Replace with it in decl would: for
// an app that recomputes only what changed.
func (d *Declarations) Set(ctx Context, dpid uint64, key string, flows ...flow.Flow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = Declared{}
	}
	if d.keys[dpid] == nil {
		d.keys[dpid] = map[string]bool{}
	}
	d.keys[dpid][key] = true
	ctx.Set(dpid, key, flows...)
}

// Delete withdraws one key from dpid if it is declared.
func (d *Declarations) Delete(ctx Context, dpid uint64, key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys[dpid][key] {
		delete(d.keys[dpid], key)
		ctx.Delete(dpid, key)
	}
}

// Restore implements apps.Restorer.
func (d *Declarations) Restore(dpid uint64, key string, _ []flow.Flow) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = Declared{}
	}
	d.keys.Restored(dpid, key)
}

// ForgetSwitch implements apps.Forgetter.
func (d *Declarations) ForgetSwitch(dpid uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys.Forget(dpid)
}
