package controller

import (
	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/store"
)

// SharedExternal applies an external app's declaration that another
// instance of the cluster stored (the shared store's watch): the API
// write went through that instance, and every instance holds it, so the
// switch's master installs it wherever the write came in. It is already
// durable: nothing is written back.
func (c *Controller) SharedExternal(ch store.DesiredChange) {
	o := owner{externalApp, ch.Key}
	if ch.Delete {
		c.desired.mu.Lock()
		c.desired.removeLocked(ch.DPID, o)
		c.desired.mu.Unlock()
	} else {
		flows := make([]flow.Flow, 0, len(ch.Flows))
		for _, text := range ch.Flows {
			f, err := flow.Parse(text)
			if err != nil {
				c.log.WithError(err).WithFields(logrus.Fields{"dpid": ch.DPID, "key": ch.Key}).
					Error("an external declaration another instance stored is unreadable; ignored")
				return
			}
			flows = append(flows, f)
		}
		c.desired.restore(ch.DPID, o, externalID, flows)
	}
	if s := c.reg.get(ch.DPID); s != nil {
		s.kickSelf()
	}
}
