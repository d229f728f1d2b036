package config

import (
	"fmt"
	"net/url"
	"time"
)

// Cluster makes this loomd one instance of several sharing state in etcd
// (empty etcd: a standalone loomd on its bbolt file).
type Cluster struct {
	// Etcd lists the etcd members' client URLs.
	Etcd []string `yaml:"etcd"`
	// Instance is this loomd's name in the cluster, unique among them.
	Instance string `yaml:"instance"`
	// Lease is how long an instance that stops answering keeps its
	// switches (whole seconds, 2s..60s; default 3s).
	Lease Duration `yaml:"lease"`
	// RebalanceAfter is how long an instance must stand for a switch it
	// is preferred for before the master hands it over (default 5s).
	RebalanceAfter Duration `yaml:"rebalance_after"`
	// Prefix is the root of Loom's keys in etcd (default /loom/): two
	// clusters may share one etcd under different prefixes.
	Prefix string `yaml:"prefix"`
	// TLS is the client certificate and CA for https:// members.
	TLS TLSFiles `yaml:"tls"`
}

// Enabled says whether the loomd runs as a cluster instance.
func (c Cluster) Enabled() bool { return len(c.Etcd) > 0 }

func (c Cluster) validate() error {
	if !c.Enabled() {
		if c.Instance != "" {
			return fieldErr("cluster.etcd", "instance %q is set but no etcd member is listed", c.Instance)
		}
		return nil
	}
	for i, e := range c.Etcd {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr(fmt.Sprintf("cluster.etcd[%d]", i), "%q: want http://HOST:PORT or https://HOST:PORT", e)
		}
		if u.Scheme == "https" && c.TLS.CA == "" {
			return fieldErr("cluster.tls", "an https:// etcd member needs tls.ca (and cert and key)")
		}
	}
	if !validName(c.Instance) {
		return fieldErr("cluster.instance", "%q: want 1-64 letters, digits, '.', '_' or '-' (each instance its own)", c.Instance)
	}
	if d := time.Duration(c.Lease); d != 0 && (d < 2*time.Second || d > time.Minute || d%time.Second != 0) {
		return fieldErr("cluster.lease", "%v: want whole seconds in 2s..60s", d)
	}
	if d := time.Duration(c.RebalanceAfter); d < 0 || d > time.Hour {
		return fieldErr("cluster.rebalance_after", "%v is outside 0..1h", d)
	}
	if c.Prefix != "" && (c.Prefix[0] != '/' || c.Prefix[len(c.Prefix)-1] != '/') {
		return fieldErr("cluster.prefix", "%q: want a path that starts and ends with /", c.Prefix)
	}
	return nil
}
