package controller

import (
	"fmt"
	"sort"
	"time"

	"github.com/loomsdn/loom/apps"
)

// Health says what is wrong now, one condition per thing, most serious
// kind first: switches away, OVSDBs not answering, then what apps report
// (tunnel paths down). Empty means healthy. It reads the live sessions,
// the OVSDB clients and the apps, never a cached flag.
func (c *Controller) Health() []apps.Condition {
	now := c.now()
	var out []apps.Condition
	if top := c.cfg.Topology; top != nil {
		snap := top.Snapshot()
		var away []apps.Condition
		for _, sw := range snap.Switches {
			if sw.Connected {
				continue
			}
			d := c.reg.awayFor(sw.DPID, time.Now())
			away = append(away, apps.Condition{Kind: "switch", Subject: switchName(sw.DPID, sw.Hypervisor, sw.Bridge),
				Message: fmt.Sprintf("disconnected %s ago", d.Round(time.Second)), Since: now.Add(-d)})
		}
		// Thousands of churned datapaths must not make status thousands of
		// lines: the most recent are named, the rest counted.
		if len(away) > maxAwayListed {
			sort.Slice(away, func(i, j int) bool { return away[i].Since.After(away[j].Since) })
			rest := len(away) - maxAwayListed
			away = append(away[:maxAwayListed], apps.Condition{Kind: "switch", Subject: "others",
				Message: fmt.Sprintf("%d more switches disconnected (loomctl get switches lists them)", rest)})
		}
		out = append(out, away...)
		for _, hv := range snap.Hypervisors {
			if cond, ok := c.hv.condition(hv.Name, now); ok {
				out = append(out, cond)
			} else if !hv.Connected {
				msg := "not connected"
				if hv.Error != "" {
					msg += ": " + hv.Error
				}
				out = append(out, apps.Condition{Kind: "ovsdb", Subject: hv.Name, Message: msg})
			}
		}
	}
	for _, a := range c.apps {
		if h, ok := a.(apps.HealthReporter); ok {
			out = append(out, h.Health(now)...)
		}
	}
	out = append(out, c.ownConditions(now)...)
	out = append(out, c.identityConditions()...)
	out = append(out, c.tlsConditions()...)
	rank := map[string]int{"switch": 0, "ovsdb": 1, "store": 2}
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := rank[out[i].Kind]
		rj, okj := rank[out[j].Kind]
		if !oki {
			ri = len(rank)
		}
		if !okj {
			rj = len(rank)
		}
		if ri != rj {
			return ri < rj
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Subject < out[j].Subject
	})
	return out
}

// maxAwayListed is how many disconnected switches health names one by one.
const maxAwayListed = 20

// ownConditions are the controller's own standing problems.
func (c *Controller) ownConditions(now time.Time) []apps.Condition {
	out := c.passiveConditions()
	out = append(out, c.clusterConditions()...)
	if cond, ok := c.storeCondition(); ok {
		out = append(out, cond)
	}
	if n := c.reg.settingUp(); n > 0 && c.reg.setupStuck(now, 2*c.cfg.RequestTimeout) > 0 {
		out = append(out, apps.Condition{Kind: "switch", Subject: "setup",
			Message: fmt.Sprintf("%d switches in setup, %d of them for over %s", n, c.reg.setupStuck(now, 2*c.cfg.RequestTimeout), 2*c.cfg.RequestTimeout)})
	}
	return out
}

// storeCondition names a store that refuses the apps' desired state: the
// changes wait in memory and are retried, and a restart now would lose
// them.
func (c *Controller) storeCondition() (apps.Condition, bool) {
	if c.persist == nil {
		return apps.Condition{}, false
	}
	n, err := c.persist.state()
	if err == nil || n == 0 {
		return apps.Condition{}, false
	}
	return apps.Condition{Kind: "store", Subject: "desired state",
		Message: fmt.Sprintf("%d changes not yet written: %v", n, err)}, true
}

// Ready says loomd is serving: restored and accepting switches.
func (c *Controller) Ready() bool { return c.serving.Load() > 0 }

// switchName is how conditions and logs name a switch: its dpid, and
// where it lives when OVSDB said.
func switchName(dpid uint64, hv, bridge string) string {
	s := fmt.Sprintf("0x%016x", dpid)
	if hv != "" && bridge != "" {
		s += " (" + hv + "/" + bridge + ")"
	}
	return s
}
