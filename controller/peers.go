package controller

import "github.com/loomsdn/loom/apps"

// peers is the state of every path between hypervisors, from the apps
// that keep such paths (apps.PeerReporter: the tunnel mesh).
func (c *Controller) peers() []apps.Peer {
	var out []apps.Peer
	for _, a := range c.apps {
		if r, ok := a.(apps.PeerReporter); ok {
			out = append(out, r.Peers(c.now())...)
		}
	}
	return out
}
