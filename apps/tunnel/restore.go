package tunnel

import "github.com/loomsdn/loom/flow"

// Restore implements apps.Restorer: keys declared by an earlier run are
// known again, so the first recompute withdraws those no longer wanted.
func (a *App) Restore(dpid uint64, key string, _ []flow.Flow) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.declared.Restored(dpid, key)
}

// ForgetSwitch implements apps.Forgetter.
func (a *App) ForgetSwitch(dpid uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.declared.Forget(dpid)
	delete(a.meshes, dpid)
	delete(a.sums, dpid)
}
