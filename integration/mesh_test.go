package integration

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
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
			// The same, as metrics: one loom_tunnel_peer_up per path, all 1.
			resp, err := http.Get("http://" + logAddr(t, l.proc.Log(), reMetricsAddr) + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			up := regexp.MustCompile(`(?m)^loom_tunnel_peer_up\{[^}]*\} 1$`).FindAll(body, -1)
			down := regexp.MustCompile(`(?m)^loom_tunnel_peer_up\{[^}]*\} 0$`).FindAll(body, -1)
			if len(up) != 6 || len(down) != 0 {
				t.Errorf("loom_tunnel_peer_up: %d paths up, %d down; want 6 and 0", len(up), len(down))
			}
		})
	}
}

// Three hypervisors, then a fourth joins (its VMs reach the others within
// 5 s), a VM moves to another host with its MAC and IP (reachable again
// within 2 s), and the fourth leaves for good (after the peer timeout its
// flows are gone everywhere and Loom removes its own tunnel port there).
func TestMeshFollowsJoinsMovesAndLeaves(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1"}, []string{"b2", "b4"}, []string{"b3"}, []string{"b5"})
	h1, h2, h3, h4 := hosts[0], hosts[1], hosts[2], hosts[3]
	cfg := writeConfig(t, lab, "loom.yaml", strings.Replace(meshConfig("vxlan", hosts, ""), "probe_interval: 300ms", "probe_interval: 300ms, peer_timeout: 2s", 1))
	l := startLoomd(t, lab, "--config", cfg)
	joinLoom(t, l, h1, h2, h3)
	mustPing(t, h1.vms["b1"], h2.vms["b2"])
	mustPing(t, h3.vms["b3"], h2.vms["b4"])

	// hv4 joins.
	joined := time.Now()
	joinLoom(t, l, h4)
	if err := h4.vms["b5"].Ping(h1.vms["b1"].IP, 1, 5*time.Second-time.Since(joined)); err != nil {
		t.Fatalf("a joining host's VM does not reach the others within 5 s: %v", err)
	}
	mustPing(t, h2.vms["b2"], h4.vms["b5"])
	mustPing(t, h4.vms["b5"], h3.vms["b3"])

	// b2 moves from hv2 to hv3: same MAC, same IP.
	b2 := h2.vms["b2"]
	if _, err := h2.hv.Vsctl("del-port", "vswitch02", b2.Port); err != nil {
		t.Fatal(err)
	}
	moved := h3.hv.AddVM("b2moved", h3.vs2, b2.IP+"/24")
	if _, err := moved.Exec("ip", "link", "set", "eth1", "address", b2.MAC); err != nil {
		t.Fatal(err)
	}
	if _, err := h3.hv.Vsctl("set", "Interface", moved.Port, "external_ids:attached-mac="+b2.MAC); err != nil {
		t.Fatal(err)
	}
	if err := h1.vms["b1"].Ping(b2.IP, 1, 2*time.Second); err != nil {
		t.Fatalf("a moved VM is not reachable within 2 s: %v", err)
	}

	// hv4 leaves for good: its switch goes and stays away.
	h4.vs2.DelController()
	waitFor(t, "hv4's flows gone from the others, and its tunnel port from hv4", 10*time.Second, func() bool {
		for _, h := range []*meshHost{h1, h2, h3} {
			lines, _ := h.vs2.DumpFlows()
			if containsLine(lines, h4.hv.TunnelIP) {
				return false
			}
		}
		out, _ := h4.hv.Vsctl("list-ports", "vswitch02")
		return !strings.Contains(out, "loom-vxlan")
	})
	mustPing(t, h1.vms["b1"], h2.vms["b4"])
	mustPing(t, h3.vms["b3"], h1.vms["b1"])
}

// Restarting loomd (kill -9) during traffic across the tunnel loses no
// ping: the switches keep their flows, and the new loomd wants exactly
// the same ones.
func TestMeshSurvivesALoomdRestart(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1"}, []string{"b2"})
	cfg := writeConfig(t, lab, "loom.yaml", meshConfig("vxlan", hosts, ""))
	l := startLoomd(t, lab, "--config", cfg)
	joinLoom(t, l, hosts...)
	b1, b2 := hosts[0].vms["b1"], hosts[1].vms["b2"]
	mustPing(t, b1, b2)
	l.waitPersisted(t)
	conn, ctx := l.api(t)
	for _, h := range hosts {
		waitFor(t, h.hv.Name+": the switch holds what Loom wants", 10*time.Second, func() bool {
			d, err := pb.NewFlowServiceClient(conn).DiffFlows(ctx, &pb.DiffFlowsRequest{Dpid: h.vs2.DPID})
			return err == nil && len(d.Changes) == 0
		})
	}
	before := flowTable(t, hosts[0].vs2)

	pinger := lab.Start("pinger", b1.NS, nil, "ping", "-i", "0.01", "-c", "800", "-W", "1", b2.IP)
	time.Sleep(300 * time.Millisecond)
	l.proc.Kill9()
	l.start(t, "--config", cfg)
	for _, h := range hosts {
		if err := h.vs2.WaitConnected(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := pinger.Wait(30 * time.Second); err != nil {
		t.Fatalf("ping across the restart: %v\n%s", err, pinger.Log())
	}
	if n := strings.Count(l.proc.Log(), "switch connected"); n != 2 || strings.Count(l.proc.Log(), "flow_mods=0 flows=") != 2 {
		after := flowTable(t, hosts[0].vs2)
		for k := range after {
			if _, ok := before[k]; !ok {
				t.Logf("added: %s", k)
			}
		}
		for k := range before {
			if _, ok := after[k]; !ok {
				t.Logf("removed: %s", k)
			}
		}
		t.Errorf("the restarted loomd changed flows on connect:\n%s", tailLines(l.proc.Log(), 30))
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		var changes []string
		for _, line := range strings.Split(l.proc.Log(), "\n") {
			if strings.Contains(line, "flow_mods=") || strings.Contains(line, "repaired") || strings.Contains(line, "desired state restored") {
				changes = append(changes, line)
			}
		}
		t.Fatalf("pings lost across the restart:\n%s\nthe restarted loomd:\n%s\n%s", tailLines(pinger.Log(), 3), strings.Join(changes, "\n"), tailLines(l.proc.Log(), 40))
	}
}

// kill -9 of loomd while it creates tunnel ports, again and again, leaves
// exactly one Loom tunnel port per VM bridge after a restart: one fixed
// name per bridge and one OVSDB transaction per port make a duplicate or a
// half-made port impossible, and the stamp lets Loom find its own.
func TestMeshKill9DuringPortCreationLeavesNoStrayPorts(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1"}, []string{"b2"})
	cfg := writeConfig(t, lab, "loom.yaml", meshConfig("vxlan", hosts, ""))
	l := startLoomd(t, lab, "--config", cfg)
	for _, h := range hosts {
		h.vs2.SetController("unix:" + l.sock)
	}
	for i := 0; i < 6; i++ {
		time.Sleep(time.Duration(100+i*60) * time.Millisecond) // somewhere in connect, OVSDB sync and port creation
		l.proc.Kill9()
		for _, h := range hosts { // and sometimes with the port just removed by hand
			if i%3 == 2 {
				h.hv.Vsctl("--if-exists", "del-port", "vswitch02", "loom-vxlan")
			}
		}
		l.start(t, "--config", cfg)
	}
	joinLoom(t, l, hosts...)
	time.Sleep(2 * time.Second) // a few OVSDB passes: nothing more may appear
	for _, h := range hosts {
		for _, br := range []string{"vswitch01", "vswitch02"} {
			out, err := h.hv.Vsctl("list-ports", br)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if br == "vswitch02" {
				want = 1
			}
			if n := strings.Count(out, "loom-"); n != want {
				t.Errorf("%s %s: %d Loom tunnel ports, want %d:\n%s", h.hv.Name, br, n, want, out)
			}
		}
	}
	mustPing(t, hosts[0].vms["b1"], hosts[1].vms["b2"])
}
