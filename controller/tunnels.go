package controller

import "github.com/loomsdn/loom/apps/tunnel"

// tunnelPeers is the mesh's health from the tunnel app, if one runs.
func (c *Controller) tunnelPeers() []tunnel.Peer {
	for _, a := range c.apps {
		if t, ok := a.(*tunnel.App); ok {
			return t.Peers(c.now())
		}
	}
	return nil
}
