// Package sflow samples traffic on every bridge Loom controls with OVS's
// sFlow agent: it declares each bridge's sFlow row (collectors, sampling
// rate, header size, counter polling) through OVSDB, and the controller
// keeps it there, stamped as the app's, on bridges that join later too.
// It declares no flows: OVS samples in its datapath and sends sFlow v5
// datagrams to the collectors itself.
package sflow

import (
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// Name is the app's name, and its config section under `apps:`.
const Name = "sflow"

// App is the sFlow sampler.
type App struct{ c Config }

// New returns the app configured by its section of the config file (nil:
// none, so sFlow stays off and any row it made goes).
func New(section *yaml.Node) (*App, error) {
	c, err := ParseConfig(section)
	if err != nil {
		return nil, err
	}
	return &App{c: c}, nil
}

// Name implements apps.App.
func (a *App) Name() string { return Name }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return pipeline.AppSFlow }

// Tables implements apps.App: none, it declares no flows.
func (a *App) Tables() []flow.Table { return nil }

// BridgeRows implements apps.BridgeRowDeclarer: the sFlow row of every
// bridge whose switch Loom knows (and that the config names, when it
// names any).
func (a *App) BridgeRows(br apps.HypervisorBridge) []apps.BridgeRow {
	if len(a.c.Targets) == 0 || !br.Known || len(a.c.Bridges) > 0 && !slices.Contains(a.c.Bridges, br.Name) {
		return nil
	}
	row := &vswitch.SFlow{Targets: slices.Clone(a.c.Targets), Sampling: ptr(a.c.Sampling), Header: ptr(a.c.Header),
		Polling: ptr(a.c.Polling)}
	if a.c.Agent != "" {
		row.Agent = ptr(a.c.Agent)
	}
	return []apps.BridgeRow{{Column: "sflow", Row: row}}
}

func ptr[T any](v T) *T { return &v }
