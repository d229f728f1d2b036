package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// HypervisorsDiscovery turns on finding hypervisors from their switches'
// connections. Any host can open an OpenFlow connection, and Loom
// believes what the OVSDB it then dials says about bridges and ports; so
// discovery is off unless Allow lists the networks whose hosts may be
// dialled (the hypervisors' management network, say).
type HypervisorsDiscovery struct {
	// Allow lists networks in CIDR form ("192.168.50.0/24",
	// "fd00:10::/64"); a switch connecting from an address in one of them,
	// on a host no configured hypervisor covers, makes Loom read the
	// host's OVSDB at tcp:<address>:6640. Empty: no discovery.
	Allow []string `yaml:"allow"`
}

// Prefixes returns Allow parsed (validated with the config).
func (d HypervisorsDiscovery) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range d.Allow {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// maxDiscoveryNets bounds hypervisors_discovery.allow.
const maxDiscoveryNets = 256

// validateDiscovery checks hypervisors_discovery and openflow.targets.
func (c Config) validateDiscovery() error {
	if len(c.HypervisorsDiscovery.Allow) > maxDiscoveryNets {
		return fieldErr("hypervisors_discovery.allow", "%d networks; at most %d", len(c.HypervisorsDiscovery.Allow), maxDiscoveryNets)
	}
	for i, s := range c.HypervisorsDiscovery.Allow {
		at := fmt.Sprintf("hypervisors_discovery.allow[%d]", i)
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return fieldErr(at, "%q is not a network in CIDR form like 192.168.50.0/24", s)
		}
		if p.Bits() == 0 {
			return fieldErr(at, "%q allows every address: list the hypervisors' networks", s)
		}
	}
	for i, t := range c.OpenFlow.Targets {
		at := fmt.Sprintf("openflow.targets[%d]", i)
		rest, ok := strings.CutPrefix(t, "tcp:")
		if !ok {
			rest, ok = strings.CutPrefix(t, "ssl:")
		}
		if !ok {
			return fieldErr(at, "%q: want tcp:HOST:PORT or ssl:HOST:PORT, as ovs-vsctl set-controller takes it", t)
		}
		if host, port, err := net.SplitHostPort(rest); err != nil || host == "" || port == "" {
			return fieldErr(at, "%q: want tcp:HOST:PORT or ssl:HOST:PORT", t)
		}
	}
	return nil
}
