package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

// Networks configures the live network policy.
type Networks struct {
	// Policy is what the vlan, acl and l2 apps read.
	Policy *network.Holder
	// File is the config file's declarations at start.
	File network.Spec
	// Reload reads the config file again (SIGHUP, the API's Reload); nil
	// when loomd runs without one.
	Reload func() (network.Spec, error)
}

// ErrNoConfigFile means a reload was asked of a loomd started without one.
var ErrNoConfigFile = errors.New("loomd runs without a config file: nothing to reload")

// netState is the file's and the API's declarations behind the running
// policy. Changes are serialised: each one compiles the merge whole,
// swaps the policy and refreshes every switch before the next starts.
type netState struct {
	file, api network.Spec
}

// RestoreNetworks loads the API's declarations an earlier run stored and
// applies them with the file's. Declarations that no longer fit the file
// (a name now in both) are logged and kept in the store, not applied or
// lost. Call it before Serve.
func (c *Controller) RestoreNetworks() error {
	n := c.cfg.Networks
	if n == nil {
		return nil
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	c.nets.file = n.File
	if c.cfg.Store != nil {
		data, err := c.cfg.Store.LoadNetworks()
		if err != nil {
			return err
		}
		if data != nil {
			if err := json.Unmarshal(data, &c.nets.api); err != nil {
				return fmt.Errorf("stored API networks: %w", err)
			}
		}
	}
	p, err := compileMerged(c.nets.file, c.nets.api)
	if err != nil {
		c.log.WithError(err).Error("the networks and ACLs stored from the API conflict with the config file; running the file's alone (the API's are kept in the database)")
		if p, err = network.Compile(c.nets.file); err != nil {
			return err
		}
	}
	n.Policy.Set(p)
	return nil
}

func compileMerged(file, api network.Spec) (*network.Policy, error) {
	merged, err := network.Merge(file, api)
	if err != nil {
		return nil, err
	}
	return network.Compile(merged)
}

// NetworkSpecs returns the file's and the API's declarations.
func (c *Controller) NetworkSpecs() (file, api network.Spec) {
	c.netMu.Lock()
	defer c.netMu.Unlock()
	return c.nets.file, c.nets.api
}

// UpdateAPINetworks changes the API's declarations through fn and applies
// the result. Nothing changes when the result does not validate: the error
// names the field (a *network.FieldError).
func (c *Controller) UpdateAPINetworks(fn func(api *network.Spec) error) error {
	if c.cfg.Networks == nil {
		return errors.New("this controller runs no network policy")
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	api := cloneSpec(c.nets.api)
	if err := fn(&api); err != nil {
		return err
	}
	p, err := compileMerged(c.nets.file, api)
	if err != nil {
		return err
	}
	if c.cfg.Store != nil {
		data, _ := json.Marshal(api)
		if err := c.cfg.Store.SaveNetworks(data); err != nil {
			return &StoreError{What: "the API's networks, trunks and ACLs", Err: err}
		}
	}
	c.nets.api = api
	c.apply(p, "api")
	return nil
}

// ReloadConfig reads the config file again and applies its networks,
// trunks and ACLs. An invalid file changes nothing.
func (c *Controller) ReloadConfig() error {
	n := c.cfg.Networks
	if n == nil || n.Reload == nil {
		return ErrNoConfigFile
	}
	file, err := n.Reload()
	if err != nil {
		c.log.WithError(err).Error("config reload rejected; the running configuration stays in force")
		return err
	}
	c.netMu.Lock()
	defer c.netMu.Unlock()
	p, err := compileMerged(file, c.nets.api)
	if err != nil {
		c.log.WithError(err).Error("config reload rejected; the running configuration stays in force")
		return err
	}
	c.nets.file = file
	c.apply(p, "config file")
	return nil
}

// apply swaps in p and recomputes every switch; called with netMu held.
func (c *Controller) apply(p *network.Policy, source string) {
	c.cfg.Networks.Policy.Set(p)
	c.Refresh()
	c.log.WithFields(logrus.Fields{"source": source, "networks": len(p.Networks()), "acl_rules": len(p.Rules())}).Info("network policy applied")
}

func cloneSpec(s network.Spec) network.Spec {
	data, _ := json.Marshal(s)
	var out network.Spec
	_ = json.Unmarshal(data, &out) // the bytes Marshal just made of the same type
	return out
}

// SwitchPlan is what a policy change would do to one switch's flows.
type SwitchPlan struct {
	DPID                uint64
	Add, Change, Remove []string // flows in ovs-ofctl text; a change reads "old => new"
}

// Plan computes, without touching any switch, what the file spec (with the
// running API declarations) would add, change and remove on each connected
// switch. An invalid spec is the error, naming the field.
func (c *Controller) Plan(file network.Spec) ([]SwitchPlan, error) {
	c.netMu.Lock()
	api := c.nets.api
	c.netMu.Unlock()
	p, err := compileMerged(file, api)
	if err != nil {
		return nil, err
	}
	var plans []SwitchPlan
	for _, s := range c.reg.list() {
		var plan SwitchPlan
		err := s.do(func() { plan = c.planSwitch(s, p) })
		if err == nil {
			plans = append(plans, plan)
		}
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].DPID < plans[j].DPID })
	return plans, nil
}

// planSwitch runs on the session goroutine. It compares, per app and per
// declaration key, what each planning app declares now with what it
// would declare under p: a flow whose match changed within its key (a
// rule's dst_port) is a change, not an add and a remove. The table-miss
// flows are the controller's, not the policy's: a plan never lists them.
func (c *Controller) planSwitch(s *session, p *network.Policy) SwitchPlan {
	plan := SwitchPlan{DPID: s.dpid}
	for _, a := range c.apps {
		pl, ok := a.(apps.Planner)
		if !ok {
			continue
		}
		now := map[string][]flow.Flow{}
		for _, cl := range c.desired.claims(s.dpid) {
			if cl.owner.app == a.Name() && !apps.IsTableMissKey(cl.owner.key) {
				now[cl.owner.key] = append(now[cl.owner.key], cl.flow)
			}
		}
		next := pl.Plan(p, s.sw)
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

// Counters are a flow set's packet and byte counts.
type Counters struct{ Packets, Bytes uint64 }

// KeyCounters sums, over every connected switch, the counters of the
// installed flows app declared per key.
func (c *Controller) KeyCounters(ctx context.Context, app string) (map[string]Counters, error) {
	a, ok := c.appByName(app)
	if !ok {
		return nil, fmt.Errorf("no app %q", app)
	}
	out := map[string]Counters{}
	for _, s := range c.reg.list() {
		if s.rec == nil {
			continue
		}
		byCookie := map[flow.Cookie]string{}
		for _, cl := range c.desired.claims(s.dpid) {
			if cl.owner.app == app {
				byCookie[cl.owner.cookie(a.ID())] = cl.owner.key
			}
		}
		stats, err := dumpFlows(ctx, s.conn)
		if err != nil {
			return nil, fmt.Errorf("switch 0x%016x: %w", s.dpid, err)
		}
		for _, fs := range stats {
			if key, ok := byCookie[flow.Cookie(fs.Cookie)]; ok {
				n := out[key]
				n.Packets += fs.Packets
				n.Bytes += fs.Bytes
				out[key] = n
			}
		}
	}
	return out, nil
}

func (c *Controller) appByName(name string) (apps.App, bool) {
	for _, a := range c.apps {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}
