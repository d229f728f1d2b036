package tunnel

// ForgetSwitch implements apps.Forgetter: the declared keys and the mesh
// view of a switch Loom forgot.
func (a *App) ForgetSwitch(dpid uint64) {
	a.Declarations.ForgetSwitch(dpid)
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.meshes, dpid)
	delete(a.sums, dpid)
	delete(a.declared, dpid)
}
