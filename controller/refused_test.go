package controller

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/flow"
)

// badDeclarer declares, on every switch that comes up, a flow for a
// table nobody declares.
type badDeclarer struct{}

func (badDeclarer) Name() string         { return "bad" }
func (badDeclarer) ID() flow.AppID       { return 42 }
func (badDeclarer) Tables() []flow.Table { return nil }
func (badDeclarer) SwitchUp(ctx apps.Context, sw apps.Switch) {
	ctx.Set(sw.DPID, "oops", flow.Flow{Table: 9, Priority: 5})
}
func (badDeclarer) SwitchDown(apps.Context, uint64) {}

// A flow loomd refuses is listed with the switch's errors, with its app,
// key and text: it is as missing from the switch as one the switch
// refused.
func TestRefusedDeclarationsAreListedWithSwitchErrors(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}), badDeclarer{})
	r.connect(0xc1, port(1, "vm1"))
	r.eventually("the refusal listed", func() bool {
		errs, err := r.ctl.SwitchErrors(0xc1)
		if err != nil {
			return false
		}
		for _, e := range errs {
			if strings.HasPrefix(e.Error, "refused by loomd: no table 9") && e.App == "bad" && e.Key == "oops" && strings.Contains(e.Flow, "table=9") {
				return !e.Time.IsZero()
			}
		}
		return false
	})
}
