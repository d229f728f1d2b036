package policy

import (
	"sort"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

// SwitchPlan is what a policy change would do to one switch's flows.
type SwitchPlan struct {
	DPID                uint64
	Add, Change, Remove []string // flows in ovs-ofctl text; a change reads "old => new"
	Flows               int      // the policy's flows on the switch now
}

// Plan is what a policy change would do: per switch, and to the
// networks, with what an operator should read first.
type Plan struct {
	Switches                       []SwitchPlan
	NetworksAdded, NetworksRemoved []string
	Warnings                       []string
}

// LargeRemoval is the share of a switch's policy flows a plan may remove
// before it warns.
const LargeRemoval = 0.25

// Plan computes, without touching any switch, what the file spec (with
// the running API declarations) would add, change and remove on each
// connected switch, for every app that can plan (apps.Planner), and warns
// of what deserves a second look. An invalid spec is the error, naming
// the field.
func (s *Service) Plan(file network.Spec) (*Plan, error) {
	running, api := s.Specs()
	p, err := compileMerged(file, api)
	if err != nil {
		return nil, err
	}
	planners := s.rt.Apps()
	plan := &Plan{}
	ports := map[string]bool{} // the names of every connected switch's ports
	s.rt.OnEachSwitch(func(d controller.Declarations) {
		plan.Switches = append(plan.Switches, planSwitch(d, planners, p))
		for _, port := range d.Switch.Ports {
			ports[port.Name] = true
		}
	})
	sort.Slice(plan.Switches, func(i, j int) bool { return plan.Switches[i].DPID < plan.Switches[j].DPID })
	plan.NetworksAdded, plan.NetworksRemoved = networkChanges(running.Networks, file.Networks)
	plan.Warnings = warnings(plan, file, running, ports)
	return plan, nil
}

// planSwitch runs on the switch's goroutine. It compares, per app and
// per declaration key, what each planning app declares now with what it
// would declare under p: a flow whose match changed within its key (a
// rule's dst_port) is a change, not an add and a remove. The table-miss
// flows are the controller's, not the policy's: a plan never lists them.
func planSwitch(d controller.Declarations, planners []apps.App, p *network.Policy) SwitchPlan {
	plan := SwitchPlan{DPID: d.Switch.DPID}
	for _, a := range planners {
		pl, ok := a.(apps.Planner)
		if !ok {
			continue
		}
		now := d.Of(a.Name())
		for _, fs := range now {
			plan.Flows += len(fs)
		}
		next := pl.Plan(p, d.Switch)
		for key := range next {
			if apps.IsTableMissKey(key) {
				delete(next, key)
			}
		}
		for key := range keysOf(now, next) {
			plan.diffKey(now[key], next[key])
		}
	}
	sort.Strings(plan.Add)
	sort.Strings(plan.Change)
	sort.Strings(plan.Remove)
	return plan
}

// diffKey adds to the plan what turns one declaration key's flows old
// into next: flows with the same match whose behaviour differs are
// changes; of the rest, as many as pair up (in text order) are changes
// too, the others adds or removes.
func (plan *SwitchPlan) diffKey(old, next []flow.Flow) {
	oldBy := map[flow.Key]flow.Flow{}
	for _, f := range old {
		oldBy[f.Key()] = f
	}
	var added []flow.Flow
	for _, f := range next {
		o, ok := oldBy[f.Key()]
		switch {
		case !ok:
			added = append(added, f)
		case !o.SameBehaviour(f):
			plan.Change = append(plan.Change, o.String()+" => "+f.String())
		}
		delete(oldBy, f.Key())
	}
	var removed []flow.Flow
	for _, f := range oldBy {
		removed = append(removed, f)
	}
	byText := func(fs []flow.Flow) {
		sort.Slice(fs, func(i, j int) bool { return fs[i].String() < fs[j].String() })
	}
	byText(added)
	byText(removed)
	for len(added) > 0 && len(removed) > 0 {
		plan.Change = append(plan.Change, removed[0].String()+" => "+added[0].String())
		added, removed = added[1:], removed[1:]
	}
	for _, f := range added {
		plan.Add = append(plan.Add, f.String())
	}
	for _, f := range removed {
		plan.Remove = append(plan.Remove, f.String())
	}
}

// keysOf is the union of two maps' keys.
func keysOf(a, b map[string][]flow.Flow) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
