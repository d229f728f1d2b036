package controller

import (
	"context"
	"fmt"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
)

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

// ruleKeyer is the app enforcing the policy's named rules, if one runs.
func (c *Controller) ruleKeyer() (apps.App, bool) {
	for _, a := range c.apps {
		if _, ok := a.(apps.RuleKeyer); ok {
			return a, true
		}
	}
	return nil, false
}

func (c *Controller) appByName(name string) (apps.App, bool) {
	for _, a := range c.apps {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}
