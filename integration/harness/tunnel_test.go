package harness

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// tunnelHost is one hypervisor of the seed scenario: vswitch01 (standalone)
// holding the uplink and the tunnel endpoint IP, vswitch02 (secure) holding
// one VM and a flow-based tunnel port.
type tunnelHost struct {
	h         *Hypervisor
	vs1, vs2  *Bridge
	vm        *VM
	tunPort   string
	vmOF, tOF int // OpenFlow ports of the VM and the tunnel on vswitch02
}

func newTunnelHost(t *testing.T, l *Lab, f *Fabric, name, hostCIDR, vmName, vmCIDR, tunType string) *tunnelHost {
	t.Helper()
	h := l.Hypervisor(name)
	vs1 := h.AddBridge("vswitch01", 0x01)
	h.AddUplink(f, vs1, hostCIDR)
	vs2 := h.AddBridge("vswitch02", 0x02)
	vm := h.AddVM(vmName, vs2, vmCIDR)

	tun := "loom-" + tunType
	if out, err := h.Vsctl("add-port", vs2.Name, tun, "--", "set", "Interface", tun,
		"type="+tunType, "options:remote_ip=flow", "options:key=flow"); err != nil {
		t.Fatalf("add tunnel port: %v\n%s", err, out)
	}
	th := &tunnelHost{h: h, vs1: vs1, vs2: vs2, vm: vm, tunPort: tun}
	var err error
	if th.vmOF, err = vm.OfPort(); err != nil {
		t.Fatal(err)
	}
	if th.tOF, err = h.OfPort(tun); err != nil {
		t.Fatal(err)
	}
	return th
}

// tunnelCookie marks the hand-written tunnel flows so they can be deleted.
const tunnelCookie = "0x5010"

// addTunnelFlows sends the VM's traffic to peer over the tunnel with VNI
// 5010 and delivers VNI 5010 from the tunnel to the VM.
func (th *tunnelHost) addTunnelFlows(t *testing.T, peer *tunnelHost) {
	t.Helper()
	for _, flow := range []string{
		fmt.Sprintf("cookie=%s,priority=100,in_port=%d,actions=set_field:5010->tun_id,set_field:%s->tun_dst,output:%d",
			tunnelCookie, th.vmOF, peer.h.TunnelIP, th.tOF),
		fmt.Sprintf("cookie=%s,priority=100,in_port=%d,tun_id=5010,actions=output:%d",
			tunnelCookie, th.tOF, th.vmOF),
	} {
		if out, err := th.vs2.Ofctl("add-flow", flow); err != nil {
			t.Fatalf("%s add-flow: %v\n%s", th.h.Name, err, out)
		}
	}
}

// Two hypervisors whose VM bridges are joined by a VXLAN or GRE tunnel over
// an OVS fabric, using OVS userspace tunnelling: the seed scenario the
// controller has to build, here with hand-written flows.
func TestTunnelBetweenHypervisors(t *testing.T) {
	for _, tunType := range []string{"vxlan", "gre"} {
		t.Run(tunType, func(t *testing.T) {
			t.Parallel() // also shows two fabrics called "underlay" coexist
			l := newCheckedLab(t)
			f := l.Fabric("underlay")
			a := newTunnelHost(t, l, f, "hv1", "192.168.50.11/24", "vm1", "172.16.123.101/24", tunType)
			b := newTunnelHost(t, l, f, "hv2", "192.168.50.12/24", "vm2", "172.16.123.102/24", tunType)
			if a.h.TunnelIP != "192.168.50.11" || b.h.TunnelIP != "192.168.50.12" ||
				a.h.UplinkBridge != a.vs1 || b.h.UplinkBridge != b.vs1 {
				t.Fatalf("TunnelIP/UplinkBridge = %q/%v, %q/%v", a.h.TunnelIP, a.h.UplinkBridge,
					b.h.TunnelIP, b.h.UplinkBridge)
			}
			for _, th := range []*tunnelHost{a, b} {
				if got, err := th.h.Vsctl("get", "Bridge", "vswitch01", "fail_mode"); err != nil || got != "standalone" {
					t.Errorf("%s vswitch01 fail_mode %q (%v), want standalone", th.h.Name, got, err)
				}
				if got, err := th.h.Vsctl("get", "Bridge", "vswitch02", "fail_mode"); err != nil || got != "secure" {
					t.Errorf("%s vswitch02 fail_mode %q (%v), want secure", th.h.Name, got, err)
				}
			}

			// Secure VM bridges without flows: nothing crosses.
			if a.vm.CanPing(b.vm.IP) {
				t.Fatalf("%s reached %s before any tunnel flow existed", a.vm.Name, b.vm.IP)
			}

			a.addTunnelFlows(t, b)
			b.addTunnelFlows(t, a)
			start := time.Now()
			// The first packets wait for ovs-vswitchd to ARP for the peer's
			// tunnel IP; Ping resends until a reply comes.
			if err := a.vm.Ping(b.vm.IP, 1, 15*time.Second); err != nil {
				t.Fatalf("%v\n%s%s", err, a.h.TunnelState(), b.h.TunnelState())
			}
			t.Logf("first %s ping across hypervisors after %v", tunType, time.Since(start).Round(time.Millisecond))
			if err := a.vm.Ping(b.vm.IP, 5, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := b.vm.Ping(a.vm.IP, 5, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			// Full-size frames fit through the tunnel thanks to the 1600-byte
			// underlay MTU: 1472 bytes of ICMP payload, don't fragment.
			if out, err := a.vm.Exec("ping", "-n", "-q", "-M", "do", "-s", "1472", "-c", "3", "-i", "0.2", "-W", "2", b.vm.IP); err != nil {
				t.Errorf("full-size ping through the %s tunnel: %v\n%s", tunType, err, out)
			}

			for _, pair := range [][2]*tunnelHost{{a, b}, {b, a}} {
				th, peer := pair[0], pair[1]
				// The traffic really went through the tunnel flows...
				flows, err := th.vs2.DumpFlows()
				if err != nil {
					t.Fatal(err)
				}
				for _, fl := range flows {
					if strings.Contains(fl, "n_packets=0,") {
						t.Errorf("%s: tunnel flow never hit: %s", th.h.Name, fl)
					}
				}
				// ...and ovs-vswitchd resolved the peer endpoint itself.
				arp, err := th.h.Appctl("tnl/arp/show")
				if err != nil || !strings.Contains(arp, peer.h.TunnelIP) || !strings.Contains(arp, "vswitch01") {
					t.Errorf("%s tnl/arp/show lacks %s on vswitch01 (%v):\n%s", th.h.Name, peer.h.TunnelIP, err, arp)
				}
				// Its tunnel listener is bound to its own endpoint IP.
				ports, err := th.h.Appctl("tnl/ports/show", "-v")
				if err != nil || !strings.Contains(ports, "ipv4(dst="+th.h.TunnelIP+",") {
					t.Errorf("%s tnl/ports/show lacks a listener on %s (%v):\n%s", th.h.Name, th.h.TunnelIP, err, ports)
				}
			}

			// A crashed ovs-vswitchd loses its flows but not the endpoint:
			// the internal port's tap is persistent, keeps IP and MAC, and
			// the restarted daemon reads the route again.
			a.h.KillVswitchd()
			a.h.StartVswitchd()
			if flows, err := a.vs2.DumpFlows(); err != nil || len(flows) != 0 {
				t.Errorf("%s vswitch02 flows after restart: %q (%v), want none", a.h.Name, flows, err)
			}
			if err := waitFor(10*time.Second, 50*time.Millisecond, func() error {
				return a.h.hasOVSRoute(netip.MustParsePrefix("192.168.50.0/24"), "vswitch01")
			}); err != nil {
				t.Fatalf("route after restart: %v", err)
			}
			a.addTunnelFlows(t, b)
			if err := a.vm.Ping(b.vm.IP, 3, 15*time.Second); err != nil {
				t.Fatalf("after restarting %s's ovs-vswitchd: %v", a.h.Name, err)
			}
			if err := b.vm.Ping(a.vm.IP, 3, 10*time.Second); err != nil {
				t.Fatalf("after restarting %s's ovs-vswitchd: %v", a.h.Name, err)
			}

			// Without the tunnel flows the VMs are cut off again.
			for _, th := range []*tunnelHost{a, b} {
				if out, err := th.vs2.Ofctl("del-flows", "cookie="+tunnelCookie+"/-1"); err != nil {
					t.Fatalf("del-flows: %v\n%s", err, out)
				}
			}
			if a.vm.CanPing(b.vm.IP) || b.vm.CanPing(a.vm.IP) {
				t.Fatalf("VMs still reach each other with the tunnel flows deleted")
			}
		})
	}
}
