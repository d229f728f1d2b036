package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// meshHost is one hypervisor of the seed scenario: vswitch01 (standalone)
// with the uplink and the tunnel endpoint IP, vswitch02 (Loom's) with VMs.
type meshHost struct {
	hv  *harness.Hypervisor
	vs2 *harness.Bridge
	vms map[string]*harness.VM
}

// meshLab builds n hypervisors on one fabric; host i (from 1) has IP
// 192.168.50.1i and the VMs named in vms[i-1] ("b..." VMs go in network
// blue, "r..." in red, by the port globs of meshConfig).
func meshLab(t *testing.T, lab *harness.Lab, f *harness.Fabric, first int, vms ...[]string) []*meshHost {
	t.Helper()
	var hosts []*meshHost
	for i, names := range vms {
		n := first + i
		hv := lab.Hypervisor(fmt.Sprintf("hv%d", n))
		vs1 := hv.AddBridge("vswitch01", uint64(0xa0+n))
		hv.AddUplink(f, vs1, fmt.Sprintf("192.168.50.%d/24", 10+n))
		h := &meshHost{hv: hv, vs2: hv.AddBridge("vswitch02", uint64(0xc0+n)), vms: map[string]*harness.VM{}}
		for j, name := range names {
			vm := hv.AddVM(name, h.vs2, fmt.Sprintf("172.16.123.%d/24", 100+10*n+j))
			// What libvirt writes, so Loom knows the VM before it sends.
			if _, err := hv.Vsctl("set", "Interface", vm.Port, "external_ids:attached-mac="+vm.MAC, "external_ids:iface-id="+name); err != nil {
				t.Fatal(err)
			}
			h.vms[name] = vm
		}
		hosts = append(hosts, h)
	}
	return hosts
}

func meshConfig(tunType string, hosts []*meshHost, extra string) string {
	var b strings.Builder
	b.WriteString("hypervisors:\n")
	for _, h := range hosts {
		fmt.Fprintf(&b, "  - {name: %s, ovsdb: \"unix:%s\", tunnel_ip: %s}\n", h.hv.Name, filepath.Join(h.hv.RunDir, "db.sock"), h.hv.TunnelIP)
	}
	fmt.Fprintf(&b, `tunnels: {type: %s, probe_interval: 300ms}
networks:
  - {name: blue, vlan: 10, vni: 5010, ports: ["p-b*"]}
  - {name: red, vlan: 20, vni: 5020, ports: ["p-r*"]}
%s`, tunType, extra)
	return b.String()
}

// joinLoom points every host's vswitch02 at l and waits for Loom's tunnel
// port on each.
func joinLoom(t *testing.T, l *loomd, hosts ...*meshHost) {
	t.Helper()
	for _, h := range hosts {
		h.vs2.SetController("unix:" + l.sock)
	}
	for _, h := range hosts {
		if err := h.vs2.WaitConnected(15 * time.Second); err != nil {
			t.Fatal(err)
		}
		waitFor(t, h.hv.Name+": Loom's tunnel port", 10*time.Second, func() bool {
			out, _ := h.hv.Vsctl("list-ports", "vswitch02")
			return strings.Contains(out, "loom-")
		})
	}
}

// Three hypervisors, VXLAN and GRE each: every VM pair of a network pings
// across hosts, no pair across networks, a broadcast reaches only the
// hosts with ports in its network, and the peers are up.
func TestMeshJoinsNetworksAcrossHosts(t *testing.T) {
	for _, tunType := range []string{"vxlan", "gre"} {
		t.Run(tunType, func(t *testing.T) {
			t.Parallel()
			lab := harness.New(t)
			hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1", "r1"}, []string{"b2"}, []string{"b3", "r3"})
			cfg := writeConfig(t, lab, "loom.yaml", meshConfig(tunType, hosts, ""))
			l := startLoomd(t, lab, "--config", cfg)
			joinLoom(t, l, hosts...)
			h1, h2, h3 := hosts[0], hosts[1], hosts[2]
			if out, _ := h1.hv.Vsctl("get", "Interface", "loom-"+tunType, "type", "options"); !strings.Contains(out, tunType) || !strings.Contains(out, `remote_ip=flow`) {
				t.Fatalf("Loom's tunnel port: %s", out)
			}

			mustPing(t, h1.vms["b1"], h2.vms["b2"])
			mustPing(t, h2.vms["b2"], h3.vms["b3"])
			mustPing(t, h3.vms["b3"], h1.vms["b1"])
			mustPing(t, h1.vms["r1"], h3.vms["r3"])
			mustNotPing(t, h1.vms["b1"], h3.vms["r3"])
			mustNotPing(t, h1.vms["r1"], h2.vms["b2"])

			// Red's broadcasts (the ARP of r1's pings) went to hv3, never to
			// hv2, which has no red port: hv2 never even classifies VNI 5020.
			red := "tun_id=0x139c"
			if n := packetsOf(t, h3.vs2, red); n == 0 {
				t.Errorf("hv3 received no red traffic")
			}
			if n := packetsOf(t, h2.vs2, red); n != 0 {
				t.Errorf("hv2 received %d red packets though it has no red port", n)
			}
			conn, ctx := l.api(t)
			waitFor(t, "all six peer paths up", 10*time.Second, func() bool {
				r, err := pb.NewTopologyServiceClient(conn).ListTunnels(ctx, &pb.ListTunnelsRequest{})
				if err != nil || len(r.Peers) != 6 {
					return false
				}
				for _, p := range r.Peers {
					if !p.Up {
						return false
					}
				}
				return true
			})
		})
	}
}
