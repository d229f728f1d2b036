package controller

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
)

// appContext is the apps.Context one handler call gets. Declarations go
// straight into the desired store; the switches they touch and the
// packet-outs wait in the context until the handler returns.
type appContext struct {
	c       *Controller
	app     apps.App
	now     time.Time
	base    *logrus.Entry
	log     *logrus.Entry // built on first use: most handlers never log
	touched map[uint64]struct{}
	outs    []apps.PacketOut
	// refreshes are the switches the handler asked to refresh.
	refreshes []uint64
	// sess is the session the handler runs on (its switch's errors list
	// the flows loomd refuses, during setup too).
	sess *session
}

func (c *Controller) newContext(app apps.App, log *logrus.Entry) *appContext {
	return &appContext{c: c, app: app, base: log}
}

// Set validates every flow against the pipeline; a declaration with an
// invalid flow is refused whole (and logged), so an app never gets half
// of what it asked for.
func (a *appContext) Set(dpid uint64, key string, flows ...flow.Flow) {
	for _, f := range flows {
		if err := a.c.pipeline.Check(f); err != nil {
			a.c.stats.invalidFlows.Add(1)
			a.Log().WithError(err).WithField("key", key).Error("app declared an invalid flow; declaration refused")
			// Listed with the switch's own errors (loomctl flows --errors):
			// a flow loomd refuses is as missing from the switch as one the
			// switch refused.
			s := a.sess
			if s == nil || s.dpid != dpid {
				s = a.c.reg.get(dpid)
			}
			if s != nil {
				s.errors.add(SwitchError{Time: a.Now(), Error: "refused by loomd: " + err.Error(), App: a.app.Name(), Key: key, Flow: f.String()})
			}
			return
		}
	}
	a.c.desired.set(dpid, owner{a.app.Name(), key}, a.app.ID(), flows)
	a.touch(dpid)
}

func (a *appContext) Delete(dpid uint64, key string) {
	a.c.desired.remove(dpid, owner{a.app.Name(), key})
	a.touch(dpid)
}

func (a *appContext) PacketOut(po apps.PacketOut) { a.outs = append(a.outs, po) }

func (a *appContext) RefreshSwitch(dpid uint64) { a.refreshes = append(a.refreshes, dpid) }

// Now is read once per handler call, on first use.
func (a *appContext) Now() time.Time {
	if a.now.IsZero() {
		a.now = a.c.now()
	}
	return a.now
}
func (a *appContext) Log() *logrus.Entry {
	if a.log == nil {
		a.log = a.base.WithField("app", a.app.Name())
	}
	return a.log
}

func (a *appContext) touch(dpid uint64) {
	if a.touched == nil {
		a.touched = make(map[uint64]struct{}, 1)
	}
	a.touched[dpid] = struct{}{}
}
