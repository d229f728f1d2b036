package controller

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// PersistTopology writes the topology to the store after it changes, at
// most every interval (changes in between are folded into one write), and
// once more when ctx ends.
func PersistTopology(ctx context.Context, top *topology.Topology, st store.Store, interval time.Duration, log *logrus.Entry) {
	kick := make(chan struct{}, 1)
	top.OnChange(func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	save := func() {
		data, err := top.Marshal()
		if err == nil {
			err = st.SaveTopology(data)
		}
		if err != nil {
			log.WithError(err).Error("persisting the topology failed; retrying on the next change")
		}
	}
	for {
		select {
		case <-ctx.Done():
			save()
			return
		case <-kick:
			save()
			select {
			case <-ctx.Done():
				save()
				return
			case <-time.After(interval):
			}
		}
	}
}
