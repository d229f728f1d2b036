package config

import (
	"strings"
	"testing"
)

func TestDiscoveryIsOffByDefault(t *testing.T) {
	if n := Default().HypervisorsDiscovery.Prefixes(); len(n) != 0 {
		t.Fatalf("default discovery networks %v, want none", n)
	}
	c, err := Load(write(t, "hypervisors_discovery:\n  allow: [192.168.50.0/24, \"fd00:10::/64\"]\nopenflow:\n  targets: [\"tcp:10.0.0.9:6653\", \"ssl:loom.example:6653\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.HypervisorsDiscovery.Prefixes(); len(p) != 2 || p[0].String() != "192.168.50.0/24" || p[1].String() != "fd00:10::/64" {
		t.Fatalf("allow %v", p)
	}
}

func TestDiscoveryErrorsNameTheField(t *testing.T) {
	for body, want := range map[string]string{
		"hypervisors_discovery:\n  allow: [192.168.50.1]\n":                 "line 2: hypervisors_discovery.allow[0]: \"192.168.50.1\" is not a network",
		"hypervisors_discovery:\n  allow: [10.0.0.0/8, 0.0.0.0/0]\n":        "hypervisors_discovery.allow[1]: \"0.0.0.0/0\" allows every address",
		"hypervisors_discovery:\n  allw: [10.0.0.0/8]\n":                    `unknown key "allw" (did you mean "allow"?)`,
		"openflow:\n  targets: [\"10.0.0.9:6653\"]\n":                       "openflow.targets[0]: \"10.0.0.9:6653\": want tcp:HOST:PORT",
		"openflow:\n  targets: [\"tcp:10.0.0.9:6653\", \"tcp:10.0.0.9\"]\n": "openflow.targets[1]",
	} {
		_, err := Load(write(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
		}
	}
}
