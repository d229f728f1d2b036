package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are every command's Examples section, by command path, in one
// place: `loomctl help CMD` shows them, and a test keeps the table
// complete as commands are added.
var examples = map[string][]string{
	"loomctl": {
		"loomctl status",
		"loomctl --server loom1.example.net get switches",
		"loomctl --token-file ops.token --ca ca.pem net list",
	},
	"loomctl get":             {"loomctl get switches", "loomctl get ports --switch kvm01/vswitch02", "loomctl get vm centos01"},
	"loomctl get switches":    {"loomctl get switches", "loomctl get switches -o json"},
	"loomctl get ports":       {"loomctl get ports", "loomctl get ports --switch vswitch02", "loomctl get ports --switch 0xc1 -o yaml"},
	"loomctl get links":       {"loomctl get links"},
	"loomctl get hosts":       {"loomctl get hosts", "loomctl get hosts -o json"},
	"loomctl get hypervisors": {"loomctl get hypervisors"},
	"loomctl get tunnels":     {"loomctl get tunnels"},
	"loomctl get instances":   {"loomctl get instances", "loomctl get instances -o yaml"},
	"loomctl get vm":          {"loomctl get vm centos01", "loomctl get vm 52:54:00:aa:bb:01 -o json"},
	"loomctl status":          {"loomctl status", "loomctl status -o json"},
	"loomctl watch":           {"loomctl watch", "loomctl watch --from 1733130000000123"},
	"loomctl topology":        {"loomctl topology --format dot | dot -Tsvg > net.svg"},
	"loomctl flows": {
		"loomctl flows",
		"loomctl flows --network web",
		"loomctl flows --switch kvm01/vswitch02 --port centos01_port1",
		"loomctl flows --switch vswitch02 --app acl",
		"loomctl flows --switch 0xc1 --installed",
		"loomctl flows --switch 0xc1 --diff",
		"loomctl flows --switch 0xc1 --errors",
	},
	"loomctl net":        {"loomctl net list", "loomctl net add web --vlan 10 --vni 5010 --port 'web-*'", "loomctl net del web"},
	"loomctl net add":    {"loomctl net add web --vlan 10 --vni 5010 --port 'web-*'", "loomctl net add db --vlan 20 --iface-id db01 --default deny --stateful"},
	"loomctl net del":    {"loomctl net del web"},
	"loomctl net list":   {"loomctl net list", "loomctl net list -o yaml"},
	"loomctl trunk":      {"loomctl trunk list", "loomctl trunk add uplink0 --vlans 10,20 --native 30"},
	"loomctl trunk add":  {"loomctl trunk add uplink0 --vlans 10,20", "loomctl trunk add 'bond*' --vlans 10,20 --native 30"},
	"loomctl trunk del":  {"loomctl trunk del uplink0"},
	"loomctl trunk list": {"loomctl trunk list"},
	"loomctl acl":        {"loomctl acl list", "loomctl acl add web-http --network web --proto tcp --dst-port 80 --action allow"},
	"loomctl acl add": {
		"loomctl acl add web-http --network web --proto tcp --dst-port 80 --action allow",
		"loomctl acl add no-ping --vlan 20 --proto icmp --icmp-type 8 --action deny",
	},
	"loomctl acl del":       {"loomctl acl del web-http"},
	"loomctl acl list":      {"loomctl acl list", "loomctl acl list -o json"},
	"loomctl plan":          {"loomctl plan /etc/loom/loom.yaml", "loomctl plan new.yaml -o json"},
	"loomctl reload":        {"loomctl reload"},
	"loomctl forget":        {"loomctl forget switch kvm01/vswitch02"},
	"loomctl forget switch": {"loomctl forget switch kvm01/vswitch02", "loomctl forget switch 0xc1 --all"},
	"loomctl version":       {"loomctl version", "loomctl version --server 192.0.2.5:9652"},
	"loomctl events":        {"loomctl events", "loomctl events --since 10m", "loomctl events --follow", "loomctl events --from 1733130000000123 -o json"},
}

// withExamples sets each command's Example from the table.
func withExamples(c *cobra.Command) {
	if ex, ok := examples[c.CommandPath()]; ok {
		c.Example = "  " + strings.Join(ex, "\n  ")
	}
	for _, sub := range c.Commands() {
		withExamples(sub)
	}
}
