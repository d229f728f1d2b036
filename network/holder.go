package network

import "sync/atomic"

// Holder is the running Policy, shared by the apps that read it (vlan, acl,
// l2). A change swaps in a whole new Policy; readers never see half of one.
type Holder struct{ p atomic.Pointer[Policy] }

// NewHolder holds p (the empty policy when nil).
func NewHolder(p *Policy) *Holder {
	h := &Holder{}
	if p == nil {
		p = Empty()
	}
	h.p.Store(p)
	return h
}

// Policy returns the running policy.
func (h *Holder) Policy() *Policy { return h.p.Load() }

// Set swaps in p.
func (h *Holder) Set(p *Policy) { h.p.Store(p) }
