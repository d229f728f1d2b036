package controller

import (
	"context"
	"time"

	"github.com/loomsdn/loom/topology"
)

// peerEvents turns the tunnel paths' state (apps.PeerReporter) into
// events when a path goes up or down, checking every interval.
func (c *Controller) peerEvents(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := map[[2]string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		seen := map[[2]string]bool{}
		for _, p := range c.peers() {
			k := [2]string{p.From, p.To}
			seen[k] = true
			if up, known := last[k]; known && up == p.Up {
				continue
			} else if !known && !p.Up {
				last[k] = false // a path never up is not news
				continue
			}
			last[k] = p.Up
			if p.Up {
				c.Emit(EventTunnel, p.From+"->"+p.To, "path up (probes arrive)")
			} else {
				c.Emit(EventTunnel, p.From+"->"+p.To, "path down: "+p.Reason)
			}
		}
		for k := range last {
			if !seen[k] {
				delete(last, k) // a peer gone from the mesh: forgotten, bounded by the mesh
			}
		}
	}
}

// vmEvents follows the model and says when a MAC shows up on another
// switch or port than before: a VM moved (or a MAC is forged, which l2
// refuses). It remembers each host's place, bounded like the model's
// hosts.
func (c *Controller) vmEvents(ctx context.Context, top *topology.Topology) {
	cur := top.Follow()
	where := map[string]topology.Endpoint{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-cur.Ready():
		}
		events, err := cur.Read()
		if err != nil {
			cur = top.Follow() // fell behind: a move missed is a move missed, not a stall
			continue
		}
		for _, e := range events {
			h, ok := e.Object.(topology.Host)
			if !ok {
				continue
			}
			if e.Type == topology.Removed {
				delete(where, h.MAC)
				continue
			}
			at := topology.Endpoint{DPID: h.DPID, Port: h.Port}
			if old, known := where[h.MAC]; known && old != at {
				c.Emitf(EventVM, h.MAC, "moved from %s port %d to %s port %d", c.switchName(old.DPID), old.Port, c.switchName(h.DPID), h.Port)
			}
			if len(where) >= maxTrackedHosts {
				clear(where) // a flood of MACs: start over rather than grow
			}
			where[h.MAC] = at
		}
	}
}

// maxTrackedHosts bounds the places vmEvents remembers.
const maxTrackedHosts = 65536
