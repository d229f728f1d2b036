package controller

import (
	"fmt"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/store"
)

// Restore loads the desired state an earlier run saved and hands each
// app its own declarations (apps.Restorer), so a restarted controller
// wants exactly what it wanted before and its first reconcile rewrites
// nothing. Call it before Serve.
func (c *Controller) Restore() error {
	if c.cfg.Store == nil {
		return nil
	}
	if err := c.restoreEvents(); err != nil {
		return err
	}
	n := 0
	restore := c.restorer(&n)
	err := c.cfg.Store.LoadDesired(func(ch store.DesiredChange) error {
		if !c.restoresAtStart(ch) {
			return nil
		}
		return restore(ch)
	})
	if err != nil {
		return fmt.Errorf("restoring desired state: %w", err)
	}
	c.log.WithField("flows", n).Info("desired state restored")
	return nil
}

// switchLoader is a store that reads one switch's declarations (the
// shared store of a cluster: a new master reads what the last one
// declared).
type switchLoader interface {
	LoadDesiredSwitch(dpid uint64, fn func(store.DesiredChange) error) error
}

// restoreSwitch loads dpid's stored declarations, as Restore does for
// all, and returns how many flows they hold.
func (c *Controller) restoreSwitch(dpid uint64) (int, error) {
	l, ok := c.cfg.Store.(switchLoader)
	if !ok {
		return 0, nil
	}
	n := 0
	if err := l.LoadDesiredSwitch(dpid, c.restorer(&n)); err != nil {
		return 0, fmt.Errorf("restoring the desired state of 0x%016x: %w", dpid, err)
	}
	return n, nil
}

// restorer hands each stored declaration to the desired state and its
// app, counting the flows in n.
func (c *Controller) restorer(n *int) func(store.DesiredChange) error {
	byName := make(map[string]apps.App, len(c.apps))
	for _, a := range c.apps {
		byName[a.Name()] = a
	}
	return func(ch store.DesiredChange) error {
		a, ok := byName[ch.App]
		if ch.App == externalApp {
			a, ok = externalPseudoApp{}, true
		}
		if !ok {
			c.log.WithFields(map[string]any{"app": ch.App, "key": ch.Key}).Warn("stored flows of an app that is not running; ignored")
			return nil
		}
		flows := make([]flow.Flow, 0, len(ch.Flows))
		for _, text := range ch.Flows {
			f, err := flow.Parse(text)
			if err != nil {
				return fmt.Errorf("stored flow of %s/%s on 0x%016x: %w", ch.App, ch.Key, ch.DPID, err)
			}
			flows = append(flows, f)
		}
		c.desired.restore(ch.DPID, owner{ch.App, ch.Key}, a.ID(), flows)
		if r, ok := a.(apps.Restorer); ok {
			r.Restore(ch.DPID, ch.Key, flows)
		}
		*n += len(flows)
		return nil
	}
}

// externalPseudoApp stands for the API clients' flows at restore.
type externalPseudoApp struct{}

func (externalPseudoApp) Name() string         { return externalApp }
func (externalPseudoApp) ID() flow.AppID       { return externalID }
func (externalPseudoApp) Tables() []flow.Table { return nil }
