package main

import (
	"context"
	"os"
	"reflect"

	"github.com/sirupsen/logrus"
	"go.yaml.in/yaml/v3"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/network"
)

// reloader re-reads the config file for a reload. Only networks, trunks
// and ACLs apply live; a change anywhere else is logged as waiting for the
// next restart rather than silently ignored.
func reloader(path string, running config.Config, log *logrus.Logger) func() (network.Spec, error) {
	return func() (network.Spec, error) {
		next, err := config.Load(path)
		if err != nil {
			return network.Spec{}, err
		}
		// Only networks apply live, but a file the next start would
		// refuse is refused now, not left to fail that start.
		if err := checkAppSections(next, path); err != nil {
			return network.Spec{}, err
		}
		if !reflect.DeepEqual(withoutNetworks(next), withoutNetworks(running)) {
			log.WithField("config", path).Warn("config changes outside networks, trunks and acls take effect at the next restart")
		}
		return next.NetworkSpec(), nil
	}
}

func withoutNetworks(c config.Config) config.Config {
	c.Networks, c.Trunks, c.ACLs = nil, nil, nil
	// Apps' own sections compare by content: a node also records its line,
	// which moves when anything above it is edited.
	sections := map[string]yaml.Node{}
	for name, n := range c.Apps.Sections {
		text, _ := yaml.Marshal(&n)
		sections[name] = yaml.Node{Kind: yaml.ScalarNode, Value: string(text)}
	}
	c.Apps.Sections = sections
	return c
}

// reloadOnSignal reloads the config file on each SIGHUP; a rejected file
// is logged by the policy service and changes nothing. Each also step
// runs after it (the OpenFlow TLS files).
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, pol *policy.Service, also ...func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			_ = pol.Reload() // the service logs a rejected file; with no file (ErrNoConfigFile) there is nothing to reload
			for _, f := range also {
				f()
			}
		}
	}
}
