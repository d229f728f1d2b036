package tunnel

import (
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
)

func TestTunnelPortOnTunnelBridgesOfKnownSwitches(t *testing.T) {
	a := New(Options{PortType: "vxlan", PeerTimeout: 30 * time.Second})
	vm := apps.HypervisorBridge{Hypervisor: "kvm01", Name: "vswitch02", DPID: 2, VMPorts: true, Known: true}
	ports := a.BridgePorts(vm)
	if len(ports) != 1 || ports[0].Name != "loom-vxlan" || ports[0].Type != "vxlan" ||
		ports[0].Options["remote_ip"] != "flow" || ports[0].Options["key"] != "flow" || len(ports[0].Options) != 2 {
		t.Fatalf("VM bridge: %+v, want one flow-based loom-vxlan port", ports)
	}
	for name, br := range map[string]apps.HypervisorBridge{
		"uplink without VMs":   {Name: "vswitch01", DPID: 1, Known: true},
		"switch never seen":    {Name: "vswitch02", DPID: 2, VMPorts: true},
		"away past timeout":    {Name: "vswitch02", DPID: 2, VMPorts: true, Known: true, AwayFor: 30 * time.Second},
		"away within timeout ": {Name: "vswitch02", DPID: 2, VMPorts: true, Known: true, AwayFor: 29 * time.Second},
	} {
		got := a.BridgePorts(br)
		if want := name == "away within timeout "; (len(got) == 1) != want {
			t.Errorf("%s: %+v, want a port: %v", name, got, want)
		}
	}
	if got := New(Options{PeerTimeout: time.Second}).BridgePorts(vm); got != nil {
		t.Errorf("no port type: %+v, want none", got)
	}
	named := New(Options{PortType: "gre", Bridge: "vswitch01", PeerTimeout: time.Second})
	if got := named.BridgePorts(vm); got != nil {
		t.Errorf("configured bridge vswitch01: %+v on vswitch02, want none", got)
	}
	if got := named.BridgePorts(apps.HypervisorBridge{Name: "vswitch01", Known: true}); len(got) != 1 || got[0].Name != "loom-gre" {
		t.Errorf("configured bridge vswitch01: %+v, want loom-gre", got)
	}
}
