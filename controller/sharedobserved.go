package controller

import (
	"github.com/loomsdn/loom/store"
)

// What a cluster's instances observe on the switches they master and
// share with each other: the hosts behind them (sharedhosts.go) and the
// LLDP probes they hear (sharedlinks.go).

// ObservedSharer is the shared store's side of it (store.Etcd).
type ObservedSharer interface {
	SaveObserved([]store.Observed) error
	LoadObserved(kind string, fn func(store.Observed) error) error
}

// SharedObserved applies an observation the shared store's watch
// reported, whatever its kind.
func (c *Controller) SharedObserved(o store.Observed) {
	switch o.Kind {
	case store.ObservedHosts:
		c.SharedHost(o)
	case store.ObservedLinks:
		c.sharedLink(o)
	}
}
