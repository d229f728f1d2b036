// Package apptest is an apps.Context for unit tests: it records what an
// app declares the way the controller would carry it out.
package apptest

import (
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
)

// Ctx records declarations (per key, the last switch's) and packet-outs.
type Ctx struct {
	Flows map[string][]flow.Flow // key -> flows
	Outs  []apps.PacketOut
	T     time.Time
	// Refreshes are the switches the app asked to refresh, in order.
	Refreshes []uint64
}

// New returns an empty context at a fixed time.
func New() *Ctx { return &Ctx{Flows: map[string][]flow.Flow{}, T: time.Unix(1000, 0)} }

// Set implements apps.Context.
func (c *Ctx) Set(dpid uint64, key string, flows ...flow.Flow) { c.Flows[key] = flows }

// Delete implements apps.Context.
func (c *Ctx) Delete(dpid uint64, key string) { delete(c.Flows, key) }

// PacketOut implements apps.Context.
func (c *Ctx) PacketOut(po apps.PacketOut) { c.Outs = append(c.Outs, po) }

// RefreshSwitch implements apps.Context: the request is kept in Refreshes.
func (c *Ctx) RefreshSwitch(dpid uint64) { c.Refreshes = append(c.Refreshes, dpid) }

// Now implements apps.Context.
func (c *Ctx) Now() time.Time { return c.T }

// Log implements apps.Context with a logger that discards.
func (c *Ctx) Log() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// Text is every declared flow in ovs-ofctl syntax, sorted, one per line.
func (c *Ctx) Text() string { return Text(c.Flows) }

// Text renders flows by key, sorted, one per line.
func Text(byKey map[string][]flow.Flow) string {
	var lines []string
	for _, fs := range byKey {
		for _, f := range fs {
			lines = append(lines, f.String())
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
