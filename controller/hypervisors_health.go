package controller

import (
	"fmt"
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
	h.mu.Lock()
	cl, ok := h.clients[name]
	h.mu.Unlock()
	if !ok {
		return apps.Condition{}, false
	}
	st := cl.Health()
	if st.Connected {
		return apps.Condition{}, false
	}
	msg := "not connected"
	if !st.LastReply.IsZero() {
		msg = fmt.Sprintf("no reply for %s", now.Sub(st.LastReply).Round(time.Second))
	}
	if st.LastError != "" {
		msg += ": " + st.LastError
	}
	if st.Attempts > 0 {
		msg += fmt.Sprintf(" (%d attempts)", st.Attempts)
	}
	return apps.Condition{Kind: "ovsdb", Subject: name, Message: msg, Since: st.Since}, true
}
