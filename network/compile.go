package network

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// MaxVNI is the highest VNI a network may use; the one above it carries
// Loom's tunnel health probes.
const MaxVNI = 1<<24 - 2

// MaxRules bounds a policy's ACL rules (each gets its own flow priority):
// MaxRulesPerSource from the config file and as many from the API, each
// source numbered on its own, so adding a rule to one renumbers nothing
// of the other.
const (
	MaxRules          = 2 * MaxRulesPerSource
	MaxRulesPerSource = 25000
)

// Policy is a validated Spec, resolved for lookups. It is immutable: a
// change compiles a new Policy and swaps it in whole.
type Policy struct {
	spec     Spec
	byVLAN   map[uint16]*Network
	byName   map[string]*Network
	rules    []CompiledRule
	ifaceIDs map[string]*Network
	vms      map[string]*Network
}

// Empty is the policy with nothing declared: every port is in the
// default segment.
func Empty() *Policy {
	p, _ := Compile(Spec{})
	return p
}

// Compile validates s whole and resolves it. The error is a *FieldError
// naming the first wrong field (and, for rules, the rule).
func Compile(s Spec) (*Policy, error) {
	p := &Policy{spec: s, byVLAN: map[uint16]*Network{}, byName: map[string]*Network{},
		ifaceIDs: map[string]*Network{}, vms: map[string]*Network{}}
	vnis := map[int]string{}
	for i := range s.Networks {
		n := &p.spec.Networks[i]
		at := fmt.Sprintf("networks[%d]", i)
		if err := validName(n.Name); err != nil {
			return nil, fieldErr(at+".name", "%v", err)
		}
		if p.byName[n.Name] != nil {
			return nil, fieldErr(at+".name", "%q is declared twice", n.Name)
		}
		if n.VLAN < 1 || n.VLAN > 4094 {
			return nil, fieldErr(at+".vlan", "network %q: %d is not a VLAN id (1-4094)", n.Name, n.VLAN)
		}
		if o := p.byVLAN[uint16(n.VLAN)]; o != nil {
			return nil, fieldErr(at+".vlan", "network %q: VLAN %d is already network %q's", n.Name, n.VLAN, o.Name)
		}
		if n.VNI < 0 || n.VNI > MaxVNI {
			return nil, fieldErr(at+".vni", "network %q: %d is not a VNI (1-%d; %d is Loom's tunnel probes')", n.Name, n.VNI, MaxVNI, MaxVNI+1)
		}
		if o, dup := vnis[n.VNI]; dup && n.VNI != 0 {
			return nil, fieldErr(at+".vni", "network %q: VNI %d is already network %q's", n.Name, n.VNI, o)
		}
		vnis[n.VNI] = n.Name
		switch n.Default {
		case "", "allow", "deny":
		default:
			return nil, fieldErr(at+".default", "network %q: %q is not allow or deny", n.Name, n.Default)
		}
		for j, g := range n.Ports {
			if err := validGlob(g); err != nil {
				return nil, fieldErr(fmt.Sprintf("%s.ports[%d]", at, j), "network %q: %v", n.Name, err)
			}
		}
		for j, id := range n.IfaceIDs {
			if o := p.ifaceIDs[id]; o != nil || id == "" {
				return nil, fieldErr(fmt.Sprintf("%s.iface_ids[%d]", at, j), "network %q: iface-id %q is empty or already in network %q", n.Name, id, nameOf(o))
			}
			p.ifaceIDs[id] = n
		}
		for j, id := range n.VMs {
			if o := p.vms[id]; o != nil || id == "" {
				return nil, fieldErr(fmt.Sprintf("%s.vm_ids[%d]", at, j), "network %q: VM %q is empty or already in network %q", n.Name, id, nameOf(o))
			}
			p.vms[id] = n
		}
		p.byName[n.Name] = n
		p.byVLAN[uint16(n.VLAN)] = n
	}
	for i, t := range s.Trunks {
		at := fmt.Sprintf("trunks[%d]", i)
		if err := validGlob(t.Port); err != nil {
			return nil, fieldErr(at+".port", "%v", err)
		}
		if len(t.VLANs) == 0 && t.Native == 0 {
			return nil, fieldErr(at+".vlans", "trunk %q carries no VLAN", t.Port)
		}
		for j, v := range t.VLANs {
			if p.byVLAN[uint16(v)] == nil || v < 1 || v > 4094 {
				return nil, fieldErr(fmt.Sprintf("%s.vlans[%d]", at, j), "trunk %q: VLAN %d is not any network's (unknown VLAN)", t.Port, v)
			}
		}
		if t.Native != 0 && (t.Native < 1 || t.Native > 4094 || p.byVLAN[uint16(t.Native)] == nil) {
			return nil, fieldErr(at+".native", "trunk %q: VLAN %d is not any network's (unknown VLAN)", t.Port, t.Native)
		}
		if t.Native != 0 && slices.Contains(t.VLANs, t.Native) {
			// It used to be accepted, and the VLAN's tagged frames were
			// dropped without a word: a native VLAN travels untagged.
			return nil, fieldErr(at+".native", "trunk %q: VLAN %d is native (untagged) and also in vlans (tagged): "+
				"list it in one place; vlans are the tagged ones", t.Port, t.Native)
		}
	}
	fileRules := len(s.ACLs)
	if s.merged {
		fileRules = s.apiRulesFrom
	}
	if fileRules > MaxRulesPerSource {
		return nil, fieldErr("acls", "%d rules in the config file; at most %d", fileRules, MaxRulesPerSource)
	}
	if n := len(s.ACLs) - fileRules; n > MaxRulesPerSource {
		return nil, fieldErr("acls", "%d rules through the API; at most %d", n, MaxRulesPerSource)
	}
	names := map[string]bool{}
	for i, r := range s.ACLs {
		at := fmt.Sprintf("acls[%d]", i)
		if err := validName(r.Name); err != nil {
			return nil, fieldErr(at+".name", "%v", err)
		}
		if names[r.Name] {
			return nil, fieldErr(at+".name", "rule %q is declared twice", r.Name)
		}
		names[r.Name] = true
		cr, err := p.compileRule(r)
		if err != nil {
			var fe *FieldError
			if asField(err, &fe) {
				return nil, fieldErr(at+"."+fe.Path, "rule %q: %v", r.Name, fe.Err)
			}
			return nil, fieldErr(at, "rule %q: %v", r.Name, err)
		}
		cr.FromAPI, cr.Index = i >= fileRules, i
		if cr.FromAPI {
			cr.Index = i - fileRules
		}
		p.rules = append(p.rules, cr)
	}
	return p, nil
}

func nameOf(n *Network) string {
	if n == nil {
		return ""
	}
	return n.Name
}

// Spec returns the declaration p was compiled from.
func (p *Policy) Spec() Spec { return p.spec }

// Network returns the network on VLAN vid.
func (p *Policy) Network(vid uint16) (Network, bool) {
	n := p.byVLAN[vid]
	if n == nil {
		return Network{}, false
	}
	return *n, true
}

// Networks returns every declared network, in declaration order.
func (p *Policy) Networks() []Network { return p.spec.Networks }

// Rules returns the compiled ACL rules in order.
func (p *Policy) Rules() []CompiledRule { return p.rules }

func validName(s string) error {
	if len(s) == 0 || len(s) > 64 {
		return fmt.Errorf("%q: want 1-64 letters, digits, '.', '_' or '-'", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("%q: want 1-64 letters, digits, '.', '_' or '-'", s)
		}
	}
	return nil
}

func validGlob(g string) error {
	if strings.TrimSpace(g) == "" {
		return fmt.Errorf("empty port name")
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("%q is not a valid port name or glob", g)
	}
	return nil
}

// matchName reports whether a port name matches a name or glob.
func matchName(glob, name string) bool {
	ok, _ := path.Match(glob, name)
	return ok
}
