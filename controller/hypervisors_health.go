package controller

import (
	"time"

	"github.com/loomsdn/loom/apps"
)

// condition is what is wrong with hypervisor name's OVSDB client, if
// anything; ok false when there is no client for it or nothing to say
// beyond the topology's view.
func (h *hypervisors) condition(name string, now time.Time) (apps.Condition, bool) {
	if h == nil {
		return apps.Condition{}, false
	}
	return apps.Condition{}, false
}
