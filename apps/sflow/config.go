package sflow

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"

	"github.com/loomsdn/loom/config"
)

// Config is the `apps: sflow:` section.
type Config struct {
	// Targets are the collectors, each IP:port (IPv6 as [addr]:port).
	// None: the app declares nothing, and removes what it made.
	Targets []string `yaml:"targets"`
	// Sampling is one in how many packets is sampled.
	Sampling int `yaml:"sampling"`
	// Header is how many bytes of each sampled packet are sent.
	Header int `yaml:"header"`
	// Polling is how often, in seconds, interface counters are sent.
	Polling int `yaml:"polling"`
	// Agent is the address (or the device whose address) collectors see
	// as the sender; empty: OVS chooses.
	Agent string `yaml:"agent"`
	// Bridges limits sampling to the bridges of these names; empty: every
	// bridge Loom controls, including those that join later.
	Bridges []string `yaml:"bridges"`
}

// Defaults, OVS's own where it has one.
const (
	DefaultSampling = 400
	DefaultHeader   = 128
	DefaultPolling  = 30
)

// ParseConfig reads the section (nil: none, sFlow off) and checks every
// field, naming the first one that is wrong.
func ParseConfig(section *yaml.Node) (Config, error) {
	c := Config{Sampling: DefaultSampling, Header: DefaultHeader, Polling: DefaultPolling}
	if err := config.DecodeSection(Name, section, &c); err != nil {
		return Config{}, err
	}
	seen := map[netip.AddrPort]int{}
	for i, t := range c.Targets {
		ap, err := netip.ParseAddrPort(t)
		if err != nil || ap.Port() == 0 {
			return Config{}, fmt.Errorf("apps.sflow.targets[%d]: %q is not an IP:port (a collector's address, [addr]:port for IPv6)", i, t)
		}
		// OVSDB refuses a set with a value twice: the row could never be
		// written, and Loom would retry it forever.
		if j, dup := seen[ap]; dup {
			return Config{}, fmt.Errorf("apps.sflow.targets[%d]: %q is the collector of targets[%d] again", i, t, j)
		}
		seen[ap] = i
	}
	switch {
	case c.Sampling < 1:
		return Config{}, fmt.Errorf("apps.sflow.sampling: %d; at least 1 (one in that many packets)", c.Sampling)
	case c.Header < 1 || c.Header > 256:
		return Config{}, fmt.Errorf("apps.sflow.header: %d; 1 to 256 bytes", c.Header)
	case c.Polling < 0 || c.Polling > 3600:
		return Config{}, fmt.Errorf("apps.sflow.polling: %d; 0 (no counters) to 3600 seconds", c.Polling)
	}
	for i, b := range c.Bridges {
		if b == "" {
			return Config{}, fmt.Errorf("apps.sflow.bridges[%d]: empty bridge name", i)
		}
	}
	return c, nil
}
