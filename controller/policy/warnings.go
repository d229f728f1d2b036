package policy

import (
	"fmt"
	"path"
	"sort"

	"github.com/loomsdn/loom/network"
)

// networkChanges names the networks the file adds and removes (the API's
// declarations do not change in a plan).
func networkChanges(running, next []network.Network) (added, removed []string) {
	had, has := map[string]bool{}, map[string]bool{}
	for _, n := range running {
		had[n.Name] = true
	}
	for _, n := range next {
		has[n.Name] = true
		if !had[n.Name] {
			added = append(added, n.Name)
		}
	}
	for _, n := range running {
		if !has[n.Name] {
			removed = append(removed, n.Name)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// warnings are what an operator should read before applying plan: each
// network removed, each switch losing more than LargeRemoval of its
// policy flows, and each port name or glob in the file that matches no
// port of a connected switch (a typo a policy accepts without a word).
func warnings(plan *Plan, file, running network.Spec, ports map[string]bool) []string {
	var out []string
	vlan := map[string]int{}
	for _, n := range running.Networks {
		vlan[n.Name] = n.VLAN
	}
	for _, name := range plan.NetworksRemoved {
		out = append(out, fmt.Sprintf("network %q (VLAN %d) goes: its ports fall back to their OVSDB tag or the default segment", name, vlan[name]))
	}
	for _, s := range plan.Switches {
		if s.Flows > 0 && float64(len(s.Remove)) > LargeRemoval*float64(s.Flows) {
			out = append(out, fmt.Sprintf("switch 0x%016x loses %d of its %d policy flows", s.DPID, len(s.Remove), s.Flows))
		}
	}
	if len(ports) == 0 {
		return out // no switch connected: nothing to match names against
	}
	matches := func(glob string) bool {
		for name := range ports {
			if ok, _ := path.Match(glob, name); ok {
				return true
			}
		}
		return false
	}
	for i, n := range file.Networks {
		for j, g := range n.Ports {
			if !matches(g) {
				out = append(out, fmt.Sprintf("networks[%d].ports[%d]: %q (network %q) matches no port of a connected switch", i, j, g, n.Name))
			}
		}
	}
	for i, t := range file.Trunks {
		if !matches(t.Port) {
			out = append(out, fmt.Sprintf("trunks[%d].port: %q matches no port of a connected switch", i, t.Port))
		}
	}
	for i, r := range file.ACLs {
		if r.InPort != "" && !matches(r.InPort) {
			out = append(out, fmt.Sprintf("acls[%d].in_port: %q (rule %q) matches no port of a connected switch", i, r.InPort, r.Name))
		}
	}
	return out
}
