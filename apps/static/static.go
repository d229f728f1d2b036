// Package static installs flows an operator lists in the config file, on
// every switch or on the ones named. Its flows live in other apps' tables
// and obey those tables' allowed fields.
package static

import (
	"fmt"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
)

// ID is the static app's cookie id.
const ID = pipeline.AppStatic

// Entry is one configured flow: on one switch (DPID) or on all (All).
type Entry struct {
	All  bool
	DPID uint64
	Flow flow.Flow
}

// App declares the configured flows on each switch that connects.
type App struct {
	entries []Entry
}

// New returns the app for entries.
func New(entries []Entry) *App { return &App{entries: entries} }

// Name implements apps.App.
func (a *App) Name() string { return "static" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App: static flows go into other apps' tables.
func (a *App) Tables() []flow.Table { return nil }

// SwitchUp implements apps.SwitchHandler.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) {
	for i, e := range a.entries {
		if e.All || e.DPID == sw.DPID {
			ctx.Set(sw.DPID, fmt.Sprintf("flow/%d", i), e.Flow)
		}
	}
}

// SwitchDown implements apps.SwitchHandler.
func (a *App) SwitchDown(apps.Context, uint64) {}
