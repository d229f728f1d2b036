package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// mustPing and mustNotPing state reachability between VMs both ways.
func mustPing(t *testing.T, from, to *harness.VM) {
	t.Helper()
	if err := from.Ping(to.IP, 2, 10*time.Second); err != nil {
		t.Errorf("%s should reach %s: %v", from.Name, to.Name, err)
	}
}

func mustNotPing(t *testing.T, from, to *harness.VM) {
	t.Helper()
	if from.CanPing(to.IP) {
		t.Errorf("%s reaches %s across networks", from.Name, to.Name)
	}
}

// hypervisorConfig is the config section that lets loomd read hv's OVSDB
// (port tags, VM identities) over its unix socket.
func hypervisorConfig(hv *harness.Hypervisor) string {
	return fmt.Sprintf("hypervisors:\n  - {name: %s, ovsdb: \"unix:%s\"}\n", hv.Name, filepath.Join(hv.RunDir, "db.sock"))
}

// Four VMs on one bridge, two per VLAN (one of them put in VLAN 20 only by
// the OVSDB tag libvirt sets from a portgroup), and a standalone OVS
// bridge behind a trunk carrying VLANs 10 and 20 with its own access ports:
// every pair inside a VLAN talks, no pair across, and the trunk's frames of
// a VLAN it may not carry are dropped.
func TestVLANsIsolateNetworksAndTrunksCarryOnlyTheirs(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	br := hv.AddBridge("vswitch02", 0xc1)
	b1 := hv.AddVM("b1", br, "172.16.123.11/24")
	b2 := hv.AddVM("b2", br, "172.16.123.12/24")
	r1 := hv.AddVM("r1", br, "172.16.123.21/24")
	r2 := hv.AddVM("r2", br, "172.16.123.22/24")
	g1 := hv.AddVM("g1", br, "172.16.123.31/24")
	if _, err := hv.Vsctl("set", "Port", r1.Port, "tag=20"); err != nil {
		t.Fatal(err)
	}
	// The far side of the trunk: a plain OVS bridge tagging its access ports.
	ext := hv.AddBridge("vswitch01", 0xc2)
	ext.SetFailMode("standalone")
	addPatchPair(t, hv)
	e10 := hv.AddVM("e10", ext, "172.16.123.41/24")
	e20 := hv.AddVM("e20", ext, "172.16.123.42/24")
	e30 := hv.AddVM("e30", ext, "172.16.123.43/24")
	for vm, tag := range map[*harness.VM]string{e10: "10", e20: "20", e30: "30"} {
		if _, err := hv.Vsctl("set", "Port", vm.Port, "tag="+tag); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeConfig(t, lab, "loom.yaml", hypervisorConfig(hv)+`
networks:
  - {name: blue, vlan: 10, ports: ["p-b*"]}
  - {name: red, vlan: 20, ports: [p-r2]}
  - {name: green, vlan: 30, ports: [p-g1]}
trunks:
  - {port: patch-02-01, vlans: [10, 20]}
`)
	l := attachLoom(t, lab, br, "--config", cfg)
	waitFor(t, "r1 classified into VLAN 20 by its OVSDB tag", 10*time.Second, func() bool {
		lines, _ := br.DumpFlows()
		return containsLine(lines, fmt.Sprintf("in_port=%d,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4116->vlan_vid", ofport(t, hv, r1.Port)))
	})

	mustPing(t, b1, b2)
	mustPing(t, r1, r2)
	mustPing(t, e10, b1) // through the trunk, tagged 10
	mustPing(t, e20, r1) // through the trunk, tagged 20
	mustNotPing(t, b1, r1)
	mustNotPing(t, b2, r2)
	mustNotPing(t, e10, r2)
	mustNotPing(t, e20, b2)
	mustNotPing(t, b1, g1)
	// VLAN 30 is a network here (green), but the trunk may not carry it.
	mustNotPing(t, e30, g1)
	lines, _ := br.DumpFlows()
	if containsLine(lines, "dl_vlan=30 actions=goto_table") && containsLine(lines, fmt.Sprintf("in_port=%d,dl_vlan=30", ofport(t, hv, "patch-02-01"))) {
		t.Error("the trunk admits VLAN 30")
	}
	if p := l.problems(); len(p) > 0 {
		t.Errorf("loomd logged problems:\n%s", strings.Join(p, "\n"))
	}
}

// tcpConnects reports whether from can open TCP to to:port and deliver a
// line, with a listener started in to's namespace.
func tcpConnects(t *testing.T, lab *harness.Lab, from, to *harness.VM, port int) bool {
	t.Helper()
	name := fmt.Sprintf("nc-%s-%d-%d", to.Name, port, time.Now().UnixNano()%1e6)
	listener := lab.Start(name, to.NS, nil, "nc", "-l", "-p", fmt.Sprint(port))
	defer listener.Stop()
	const msg = "hello-loom"
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := from.Exec("sh", "-c", fmt.Sprintf("echo %s | nc -N -w 2 %s %d", msg, to.IP, port)); err == nil {
			listener.Wait(3 * time.Second)
			return strings.Contains(listener.Log(), msg)
		}
		time.Sleep(300 * time.Millisecond)
	}
	return false
}

// reFloodEvent is a monitor event about a network's flooding flow (its
// match is the VLAN alone).
var reFloodEvent = regexp.MustCompile(`table=4 cookie=\S+ dl_vlan=\d+ actions=`)

var reRulePackets = regexp.MustCompile(`n_packets=(\d+)`)

// packetsOf sums the packet counters of the flows whose text has sub.
func packetsOf(t *testing.T, br *harness.Bridge, sub string) int {
	t.Helper()
	lines, err := br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			if m := reRulePackets.FindStringSubmatch(l); m != nil {
				var v int
				fmt.Sscan(m[1], &v)
				n += v
			}
		}
	}
	return n
}

// A stateless ACL denies ICMP and allows TCP 8080 (both directions, as a
// stateless rule set must) under a default deny: ping fails, the TCP
// connect succeeds, another port fails, and the rules' counters move.
func TestACLDeniesICMPAndAllowsTCP8080(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", `
networks:
  - {name: blue, vlan: 10, ports: ["p-centos*"], default: deny}
acls:
  - {name: no-ping, network: blue, proto: icmp, action: deny}
  - {name: web-in, network: blue, proto: tcp, dst_port: 8080, action: allow}
  - {name: web-out, network: blue, proto: tcp, src_port: 8080, action: allow}
`)
	l := attachLoom(t, lab, br, "--config", cfg)
	if vm1.CanPing(vm2.IP) {
		t.Error("ping passes a deny-ICMP rule")
	}
	if !tcpConnects(t, lab, vm1, vm2, 8080) {
		t.Error("TCP 8080 is refused though a rule allows it")
	}
	if tcpConnects(t, lab, vm1, vm2, 9090) {
		t.Error("TCP 9090 passes a default deny")
	}
	if n := packetsOf(t, br, "icmp,dl_vlan=10 actions=drop"); n == 0 { // OVS prints dl_type+nw_proto as "icmp"
		t.Error("the deny-ICMP rule's counter did not move")
	}
	if n := packetsOf(t, br, "tp_dst=8080"); n == 0 {
		t.Error("the allow-8080 rule's counter did not move")
	}
	// The API (loomctl acl list) reports the same counters per rule.
	conn, ctx := l.api(t)
	list, err := pb.NewNetworkServiceClient(conn).ListACLs(ctx, &pb.ListACLsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]uint64{}
	for _, r := range list.Rules {
		counted[r.Name] = r.Packets
	}
	if counted["no-ping"] == 0 || counted["web-in"] == 0 || counted["web-out"] == 0 {
		t.Errorf("ListACLs counters: %v", counted)
	}
}

// Stateful: A may open TCP to B; B cannot open TCP to A; the replies to
// A's connection pass because conntrack knows them.
func TestStatefulACLPassesRepliesOnly(t *testing.T) {
	t.Parallel()
	lab, _, br, a, b := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", fmt.Sprintf(`
networks:
  - {name: red, vlan: 20, ports: ["p-centos*"], default: deny, stateful: true}
acls:
  - {name: a-to-b, network: red, src: %s, dst: %s, proto: tcp, action: allow}
`, a.IP, b.IP))
	attachLoom(t, lab, br, "--config", cfg)
	if !tcpConnects(t, lab, a, b, 8080) {
		t.Error("A cannot open TCP to B, or B's replies do not come back")
	}
	if tcpConnects(t, lab, b, a, 8080) {
		t.Error("B opened TCP to A")
	}
	if n := packetsOf(t, br, "ct_state=+est+trk"); n == 0 {
		t.Error("no packet passed as established")
	}
}

// Moving a port from VLAN 10 to VLAN 20 in the config and sending SIGHUP
// changes only the flows of that port and of the two networks' flooding:
// a ping between two other VMs running through the reload loses nothing.
// A rejected config afterwards leaves every flow as it was.
func TestReloadMovesOnePortAndRejectsABadConfig(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	br := hv.AddBridge("vswitch02", 0xc1)
	b1 := hv.AddVM("b1", br, "172.16.123.11/24")
	b2 := hv.AddVM("b2", br, "172.16.123.12/24")
	mover := hv.AddVM("m1", br, "172.16.123.13/24")
	r1 := hv.AddVM("r1", br, "172.16.123.21/24")
	const before = `
networks:
  - {name: blue, vlan: 10, ports: [p-b1, p-b2, p-m1]}
  - {name: red, vlan: 20, ports: [p-r1]}
`
	cfg := writeConfig(t, lab, "loom.yaml", before)
	l := attachLoom(t, lab, br, "--config", cfg)
	mustPing(t, b1, b2)
	mustPing(t, mover, b1)
	mustNotPing(t, mover, r1)

	monitor := startFlowMonitor(t, lab, hv, br)
	pinger := lab.Start("pinger", b1.NS, nil, "ping", "-i", "0.01", "-c", "400", "-W", "1", b2.IP)
	time.Sleep(500 * time.Millisecond)

	writeConfig(t, lab, "loom.yaml", strings.Replace(before, "p-b2, p-m1]}\n  - {name: red, vlan: 20, ports: [p-r1]}", "p-b2]}\n  - {name: red, vlan: 20, ports: [p-r1, p-m1]}", 1))
	applied := strings.Count(l.proc.Log(), "network policy applied")
	if err := l.proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload applied", 10*time.Second, func() bool { return strings.Count(l.proc.Log(), "network policy applied") > applied })
	if err := pinger.Wait(30 * time.Second); err != nil {
		t.Fatalf("ping through the reload: %v\n%s", err, pinger.Log())
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Fatalf("pings lost through the reload:\n%s", tailLines(pinger.Log(), 3))
	}
	mustPing(t, mover, r1)
	mustNotPing(t, mover, b1)
	mustPing(t, b1, b2)

	// Every change names the moved port, or is a network's flooding or a
	// MAC learned in the moved port's networks.
	moved := ofport(t, hv, mover.Port)
	others := map[string]uint32{b1.Name: ofport(t, hv, b1.Port), b2.Name: ofport(t, hv, b2.Port), r1.Name: ofport(t, hv, r1.Port)}
	changes := 0
	for _, line := range strings.Split(monitor.Log(), "\n") {
		if !strings.Contains(line, "event=") || strings.Contains(line, "event=ADDED") && (strings.Contains(line, "dl_src=") || strings.Contains(line, "dl_dst=")) {
			continue // learning after the move (m1 and r1 meeting in VLAN 20) is traffic, not the reload
		}
		changes++
		for name, no := range others {
			if strings.Contains(line, fmt.Sprintf("in_port=%d,", no)) {
				t.Errorf("the reload touched %s's classification or learning: %s", name, line)
			}
		}
		if !strings.Contains(line, fmt.Sprintf("in_port=%d,", moved)) && !reFloodEvent.MatchString(line) && !strings.Contains(line, mover.MAC) {
			t.Errorf("the reload changed a flow unrelated to the moved port: %s", line)
		}
	}
	if changes == 0 {
		t.Fatal("the monitor saw no change at all")
	}

	// A rejected config (bad CIDR, port 70000, unknown VLAN) leaves the
	// table untouched, and the log names the field.
	table := flowTable(t, br)
	for field, rule := range map[string]string{
		"acls[0].src":      "{name: bad, network: blue, src: 10.0.0.300/24, action: deny}",
		"acls[0].dst_port": "{name: web, network: blue, proto: tcp, dst_port: 70000, action: allow}",
		"acls[0].vlan":     "{name: lost, vlan: 99, action: deny}",
	} {
		rejected := strings.Count(l.proc.Log(), "config reload rejected")
		writeConfig(t, lab, "loom.yaml", before+"acls:\n  - "+rule+"\n")
		if err := l.proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the rejection logged", 10*time.Second, func() bool { return strings.Count(l.proc.Log(), "config reload rejected") > rejected })
		if !strings.Contains(l.proc.Log(), field) {
			t.Errorf("the rejection does not name %s:\n%s", field, tailLines(l.proc.Log(), 5))
		}
	}
	if after := flowTable(t, br); !sameFlows(table, after) {
		t.Fatalf("a rejected config changed the flows:\nbefore %v\nafter  %v", table, after)
	}
	mustPing(t, mover, r1)
}
