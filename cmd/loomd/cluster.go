package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/discovery"
	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/store"
)

// backend is where loomd keeps its state: the bbolt file, or in a cluster
// the shared etcd store with this instance's membership.
type backend struct {
	store.Store
	where  string        // for errors and the start line: the file, or the etcd members
	node   *cluster.Node // nil outside a cluster
	shared *store.Etcd   // nil outside a cluster
	// links carries LLDP directions between instances, probeKey signs
	// every instance's probes alike (nil outside a cluster).
	links    *controller.LinkShare
	probeKey []byte
	// close releases it: the file (removed when a first start failed), or
	// the cluster (leaving it hands this instance's switches over at once).
	close func(started bool)
}

// openBackend opens the bbolt file, or joins the cluster when cfg lists
// etcd members.
func openBackend(cfg config.Config, dbPath string, self cluster.Instance, log *logrus.Logger) (*backend, error) {
	if !cfg.Cluster.Enabled() {
		db, cleanup, err := openDB(dbPath)
		if err != nil {
			return nil, err
		}
		return &backend{Store: db, where: "database " + dbPath, close: func(started bool) {
			db.Close()
			cleanup(started)
		}}, nil
	}
	c := cfg.Cluster
	tlsCfg, err := c.TLS.Client("cluster.tls")
	if err != nil {
		return nil, err
	}
	self.Name = c.Instance
	node, err := cluster.Start(cluster.Config{Endpoints: c.Etcd, TLS: tlsCfg, Self: self, Lease: time.Duration(c.Lease),
		RebalanceAfter: time.Duration(c.RebalanceAfter), Prefix: c.Prefix, Log: logrus.NewEntry(log)})
	if err != nil {
		return nil, err
	}
	// etcd must answer at start: an instance that cannot read the shared
	// state cannot compute a switch's flows.
	ctx, cancel := context.WithTimeout(context.Background(), etcdStartWait)
	defer cancel()
	shared, err := store.OpenEtcd(ctx, store.EtcdConfig{Client: node.Client(), Prefix: c.Prefix, Instance: c.Instance, Guard: node.Guard, Reached: node.Reached})
	if err != nil {
		node.Close()
		return nil, fmt.Errorf("cluster: etcd %s: %w", strings.Join(c.Etcd, ","), err)
	}
	key, err := shared.ProbeKey(ctx)
	if err != nil {
		shared.Close()
		node.Close()
		return nil, fmt.Errorf("cluster: etcd %s: LLDP probe key: %w", strings.Join(c.Etcd, ","), err)
	}
	return &backend{Store: shared, where: "etcd " + strings.Join(c.Etcd, ","), node: node, shared: shared,
		links: controller.NewLinkShare(), probeKey: key,
		close: func(bool) {
			shared.Close()
			node.Close()
		}}, nil
}

// etcdStartWait bounds how long loomd waits for etcd at start.
const etcdStartWait = 15 * time.Second

// mastership is the controller's view of the cluster (nil outside one:
// a nil *cluster.Node in the interface would not be nil).
func (b *backend) mastership() controller.Mastership {
	if b.node == nil {
		return nil
	}
	return b.node
}

// discoveryOptions make LLDP discovery a cluster's: one probe key, and
// the directions heard shared.
func (b *backend) discoveryOptions() []discovery.Option {
	if b.shared == nil {
		return nil
	}
	return []discovery.Option{discovery.WithKey(b.probeKey), discovery.SharedWith(b.links)}
}

// share makes what other instances declare through their APIs and
// observe on their switches apply here too.
func (b *backend) share(ctl *controller.Controller, pol *policy.Service, appList []apps.App) error {
	if b.shared == nil {
		return nil
	}
	if err := ctl.ShareHosts(b.shared); err != nil {
		return fmt.Errorf("%s: hosts: %w", b.where, err)
	}
	for _, a := range appList {
		if d, ok := a.(*discovery.App); ok {
			if err := ctl.ShareLinks(b.shared, b.links, d); err != nil {
				return fmt.Errorf("%s: links: %w", b.where, err)
			}
		}
	}
	b.shared.Watch(context.Background(), store.EtcdWatch{Networks: pol.Shared, External: ctl.SharedExternal, Observed: ctl.SharedObserved,
		Forgotten: ctl.SharedForgotten})
	return nil
}

// applyClusterFlags puts --etcd and --instance over the config file's
// cluster section.
func applyClusterFlags(cfg *config.Config, etcd, instance string) error {
	if etcd != "" {
		cfg.Cluster.Etcd = strings.Split(etcd, ",")
	}
	if instance != "" {
		cfg.Cluster.Instance = instance
	}
	if etcd == "" && instance == "" {
		return nil
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("--etcd/--instance: %w", err)
	}
	return nil
}
