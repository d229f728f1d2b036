// Package static installs flows an operator lists in the config file, on
// every switch or on the ones named. Its flows live in other apps' tables
// and obey those tables' allowed fields.
package static

import (
	"fmt"
	"hash/fnv"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
)

// ID is the static app's cookie id.
const ID = pipeline.AppStatic

// Entry is one configured flow: on one switch (DPID) or on all (All),
// under its Name when it has one.
type Entry struct {
	All  bool
	DPID uint64
	Flow flow.Flow
	Name string
}

// key is what the entry's flow is declared under: its name, or else its
// content, never its place in the list, so removing an entry removes its
// flow and no other entry's flow moves.
func (e Entry) key() string {
	if e.Name != "" {
		return "name/" + e.Name
	}
	h := fnv.New64a()
	h.Write([]byte(e.Flow.String()))
	return fmt.Sprintf("flow/%016x", h.Sum64())
}

// App declares the configured flows on each switch that connects.
type App struct {
	entries           []Entry
	apps.Declarations // the keys declared per switch: an entry removed from the config is withdrawn
}

// New returns the app for entries.
func New(entries []Entry) *App { return &App{entries: entries} }

// Name implements apps.App.
func (a *App) Name() string { return "static" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App: static flows go into other apps' tables.
func (a *App) Tables() []flow.Table { return nil }

// SwitchUp implements apps.SwitchHandler: exactly the configured flows,
// withdrawing those an earlier run declared that the config no longer
// lists.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) {
	decl := map[string][]flow.Flow{}
	for _, e := range a.entries {
		if e.All || e.DPID == sw.DPID {
			decl[e.key()] = []flow.Flow{e.Flow}
		}
	}
	a.Replace(ctx, sw.DPID, decl)
}

// SwitchDown implements apps.SwitchHandler.
func (a *App) SwitchDown(apps.Context, uint64) {}
