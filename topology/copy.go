package topology

import "slices"

// The model's view is shared by every reader under a read lock and is
// edited in place by commitSwitch, so nothing handed out may reach its
// memory: a caller that changed a returned port's VM would change the
// model for everyone, without a revision or an event. Every read that
// returns model values returns one of these copies.
//
// They are typed, field by field, rather than a JSON round trip, which
// cost 70% of a connect storm's CPU. The price is that a new pointer,
// slice or map field must be copied here too; TestClonesShareNoMemory
// fills every field by reflection and fails when one is missed.

// clone copies p with its own VM and Tunnel.
func (p Port) clone() Port {
	if p.VM != nil {
		vm := *p.VM
		p.VM = &vm
	}
	if p.Tunnel != nil {
		tn := *p.Tunnel
		p.Tunnel = &tn
	}
	return p
}

// clone copies h with its own IPs.
func (h Host) clone() Host {
	h.IPs = slices.Clone(h.IPs)
	return h
}

// clonePorts copies a run of ports, each with its own VM and Tunnel.
func clonePorts(ps []Port) []Port {
	out := slices.Clone(ps)
	for i := range out {
		out[i] = out[i].clone()
	}
	return out
}

// clone copies s deeply. Hypervisors, Switches and Links hold no
// pointers, slices or maps, so copying their slices copies them.
func (s Snapshot) clone() Snapshot {
	out := Snapshot{Revision: s.Revision,
		Hypervisors: slices.Clone(s.Hypervisors),
		Switches:    slices.Clone(s.Switches),
		Ports:       clonePorts(s.Ports),
		Links:       slices.Clone(s.Links),
		Hosts:       slices.Clone(s.Hosts)}
	for i := range out.Hosts {
		out.Hosts[i] = out.Hosts[i].clone()
	}
	return out
}

// cloneObject copies an event's object (diff's are untyped).
func cloneObject(o any) any {
	switch o := o.(type) {
	case Port:
		return o.clone()
	case Host:
		return o.clone()
	}
	return o // Hypervisor, Switch, Link: values all through
}
