package controller

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// Hosts in a cluster: a switch's master alone hears its packet-ins, so it
// alone learns the hosts behind it. It publishes them (store.Observed,
// guarded by its election) and every other instance puts them in its
// topology, so all compute the same flows from the same hosts (the
// tunnel mesh's remote MACs) and a new master wants what the last one
// did.

// Only a cluster shares hosts, so Controller.passive answers "not this
// instance's master" here, also for a switch it has no session to.

// hostShareEvery is how often the topology is looked at for hosts to
// publish: only when its revision moved.
const hostShareEvery = 200 * time.Millisecond

// ShareHosts loads the hosts other instances published, then publishes,
// until Close, the hosts seen on switches this instance masters.
func (c *Controller) ShareHosts(sh ObservedSharer) error {
	top := c.cfg.Topology
	if top == nil {
		return nil
	}
	if err := sh.LoadObserved(store.ObservedHosts, func(h store.Observed) error { c.SharedHost(h); return nil }); err != nil {
		return err
	}
	c.jobs.Go("share-hosts", func(ctx context.Context) { c.publishHosts(ctx, sh, top) })
	return nil
}

func (c *Controller) publishHosts(ctx context.Context, sh ObservedSharer, top *topology.Topology) {
	published := map[string]string{}   // MAC -> the record last written
	publishedOn := map[string]uint64{} // MAC -> the switch it was written for
	tick := time.NewTicker(hostShareEvery)
	defer tick.Stop()
	var seenRev uint64
	var failing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rev := top.Revision()
		if rev == seenRev {
			continue
		}
		seenRev = rev
		snap := top.Snapshot()
		present := make(map[string]bool, len(snap.Hosts))
		var out []store.Observed
		for _, h := range snap.Hosts {
			present[h.MAC] = true
			if c.passive(h.DPID) {
				continue
			}
			data, err := json.Marshal(h)
			if err != nil || published[h.MAC] == string(data) {
				continue
			}
			out = append(out, store.Observed{Kind: store.ObservedHosts, Key: h.MAC, DPID: h.DPID, Data: data})
			published[h.MAC], publishedOn[h.MAC] = string(data), h.DPID
		}
		for mac, dpid := range publishedOn {
			switch {
			case !present[mac]: // gone (aged out, forgotten): gone for everyone
				out = append(out, store.Observed{Kind: store.ObservedHosts, Key: mac, DPID: dpid, Delete: true})
				fallthrough
			case c.passive(dpid): // moved on, or the switch is another's now: its master writes it
				delete(published, mac)
				delete(publishedOn, mac)
			}
		}
		if len(out) == 0 {
			continue
		}
		if err := sh.SaveObserved(out); err != nil {
			for _, h := range out {
				delete(published, h.Key) // retried at the next change
			}
			seenRev = 0
			if !failing {
				c.log.WithError(err).Warn("cannot publish hosts to the cluster's store; retrying")
			}
			failing = true
			continue
		}
		failing = false
	}
}

// SharedHost applies a host another instance published (or this one's
// own, which it already knows: ignored). The master of a host's switch
// is the authority on it: what this instance learned itself on a switch
// it masters is not overwritten.
func (c *Controller) SharedHost(h store.Observed) {
	top := c.cfg.Topology
	if top == nil {
		return
	}
	if h.Delete {
		for _, cur := range top.Snapshot().Hosts {
			if cur.MAC == h.Key && c.passive(cur.DPID) {
				top.HostGone(h.Key)
			}
		}
		return
	}
	var host topology.Host
	if err := json.Unmarshal(h.Data, &host); err != nil || host.MAC != h.Key {
		c.log.WithFields(logrus.Fields{"mac": h.Key}).Warn("a host another instance published is unreadable; ignored")
		return
	}
	if !c.passive(host.DPID) {
		return
	}
	if len(host.IPs) == 0 {
		top.HostSeen(host.MAC, host.DPID, host.Port, "", host.LastSeen)
	}
	for _, ip := range host.IPs {
		top.HostSeen(host.MAC, host.DPID, host.Port, ip, host.LastSeen)
	}
}
