package main

import (
	"fmt"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/static"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/flow"
)

// staticEntries are the config's static flows (parsed when the config
// was validated).
func staticEntries(cfg config.Config) []static.Entry {
	var out []static.Entry
	for _, sf := range cfg.Apps.Static.Flows {
		all, dpid, f, _ := sf.Parse()
		out = append(out, static.Entry{All: all, DPID: dpid, Flow: f, Name: sf.Name})
	}
	return out
}

// checkStatics refuses a static flow the pipeline would refuse at run
// time (a table no app declares, a field its table does not match on), so
// loomd's start and --check-config say so naming the entry, instead of
// the running loomd logging a refused declaration.
func checkStatics(cfg config.Config, list []apps.App) error {
	p := flow.Pipeline{}
	for _, a := range list {
		for _, t := range a.Tables() {
			p[t.ID] = t
		}
	}
	for i, e := range staticEntries(cfg) {
		if err := p.Check(e.Flow); err != nil {
			return fmt.Errorf("apps.static.flows[%d].flow: %w", i, err)
		}
	}
	return nil
}
