package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// Identity before action (issue 13): what a peer announcing a datapath id,
// or an OVSDB listing one, can make Loom do. See controller/identity.go
// and topology/identity.go for the rules these tests prove.

func failMode(t *testing.T, hv *harness.Hypervisor, bridge string) string {
	t.Helper()
	out, err := hv.Vsctl("get", "Bridge", bridge, "fail_mode")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(out, `"[]`)
}

// (a) A fake OpenFlow peer announcing the datapath id of a standalone
// bridge that nobody pointed at Loom, on a hypervisor whose OVSDB Loom
// reads: the bridge keeps its fail_mode (unset) and keeps forwarding. The
// bridge of the same hypervisor that does name Loom as its controller is
// secured, so Loom's OVSDB writes did run while the fake peer was there.
func TestIdentityFakePeerCannotSecureAStandaloneBridge(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	standalone := hv.AddBridge("vswitch01", 0xa1)
	vm1 := hv.AddVM("centos01", standalone, "172.16.123.101/24")
	vm2 := hv.AddVM("centos02", standalone, "172.16.123.102/24")
	loomBr := hv.AddBridge("vswitch02", 0xc1)
	for _, b := range []string{standalone.Name, loomBr.Name} {
		if _, err := hv.Vsctl("clear", "Bridge", b, "fail_mode"); err != nil { // unset: standalone, NORMAL
			t.Fatal(err)
		}
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("the standalone bridge does not forward to begin with: %v", err)
	}
	cfg := writeConfig(t, lab, "loom.yaml", hypervisorConfig(hv))
	l := startLoomd(t, lab, "--config", cfg)

	conn, err := net.Dial("unix", l.sock)
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeswitch.Start(conn, standalone.DPID)
	t.Cleanup(fake.Close)
	waitFor(t, "loomd to take the fake peer", 10*time.Second, func() bool {
		return strings.Contains(l.proc.Log(), "switch connected")
	})
	loomBr.SetController("unix:" + l.sock)
	waitFor(t, "Loom to secure the bridge that names it (control)", 15*time.Second, func() bool {
		return failMode(t, hv, loomBr.Name) == "secure"
	})
	time.Sleep(2 * time.Second) // two more passes over the OVSDB
	if m := failMode(t, hv, standalone.Name); m != "" {
		t.Fatalf("a fake peer announcing the standalone bridge's dpid made Loom set its fail_mode to %q", m)
	}
	if out, _ := hv.Vsctl("get", "Bridge", standalone.Name, "external_ids"); strings.Contains(out, "loom-owned") {
		t.Fatalf("Loom stamped the standalone bridge: %s", out)
	}
	if err := vm1.Ping(vm2.IP, 5, 10*time.Second); err != nil {
		t.Fatalf("the standalone bridge stopped forwarding: %v", err)
	}
	if !strings.Contains(l.proc.Log(), "controller targets do not name this loomd") {
		t.Fatal("loomd did not say why it left the bridge alone")
	}
	// And after the fake peer and loomd are gone, it still forwards.
	fake.Close()
	l.proc.Stop()
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("the standalone bridge stopped forwarding after loomd left: %v", err)
	}
}

// (b) A second OVSDB listing a bridge with the victim switch's datapath
// id, with a port of the victim's port's name, a forged MAC and another
// VLAN tag: the victim's port keeps its classification in every sample,
// health names the conflict and both hypervisors, and Loom changes
// neither OVSDB for that bridge.
func TestIdentitySecondOVSDBCannotTakeAVictimsDatapathID(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	victim := lab.Hypervisor("hv1")
	br := victim.AddBridge("vswitch02", 0xc1)
	vm := victim.AddVM("centos01", br, "172.16.123.101/24")
	if _, err := victim.Vsctl("set", "Interface", vm.Port, "external_ids:attached-mac="+vm.MAC, "external_ids:iface-id=if-1",
		"--", "set", "Port", vm.Port, "tag=10"); err != nil {
		t.Fatal(err)
	}
	attacker := lab.Hypervisor("hv2")
	top := topology.New()
	ctl, sock := inProcessLoomWith(t, lab.Dir(), top, []topology.Hypervisor{
		{Name: "hv1", OVSDB: "unix:" + filepath.Join(victim.RunDir, "db.sock")},
		{Name: "hv2", OVSDB: "unix:" + filepath.Join(attacker.RunDir, "db.sock")},
	}, l2.New(l2.Options{Topology: top}))
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	no := ofport(t, victim, vm.Port)
	classified := func() (topology.Port, bool) {
		p, ok := top.Port(br.DPID, no)
		return p, ok && p.Tag == 10 && p.VM != nil && p.VM.MAC == vm.MAC
	}
	waitFor(t, "the victim's port classified from its own OVSDB", 15*time.Second, func() bool { _, ok := classified(); return ok })

	// The attacker's OVSDB now lists the victim's dpid.
	forged := "02:66:66:66:66:66"
	if _, err := attacker.Vsctl("add-br", "evil", "--", "set", "Bridge", "evil", "datapath_type=netdev", "other-config:datapath-id=00000000000000c1",
		"--", "add-port", "evil", vm.Port, "tag=20", "--", "set", "Interface", vm.Port, "type=internal", "external_ids:attached-mac="+forged); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attacker's OVSDB to list the bridge", 10*time.Second, func() bool {
		out, _ := attacker.Vsctl("get", "Bridge", "evil", "datapath_id")
		return strings.Contains(out, "00000000000000c1")
	})
	time.Sleep(2 * time.Second) // for Loom to read it
	// Loom must now write to neither OVSDB for that bridge: the victim's
	// fail_mode, cleared by hand, stays cleared.
	if _, err := victim.Vsctl("clear", "Bridge", br.Name, "fail_mode"); err != nil {
		t.Fatal(err)
	}
	bad := 0
	const samples = 100
	for i := 0; i < samples; i++ {
		if p, ok := classified(); !ok {
			if bad++; bad <= 3 {
				t.Logf("sample %d: %+v (vm %+v)", i, p, p.VM)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if bad > 0 {
		t.Fatalf("the victim's port lost its classification in %d of %d samples", bad, samples)
	}
	waitFor(t, "health to name the conflict", 15*time.Second, func() bool {
		for _, c := range ctl.Health() {
			if strings.Contains(c.Subject, "00000000000000c1") && strings.Contains(c.Message, "hv1") && strings.Contains(c.Message, "hv2") {
				return true
			}
		}
		return false
	})
	if b := top.Bind(br.DPID); b.Hypervisor != "hv1" || !b.Contested() {
		t.Fatalf("binding %+v", b)
	}
	if m := failMode(t, victim, br.Name); m != "" {
		t.Fatalf("Loom wrote fail_mode %q to a contested bridge", m)
	}
	if m := failMode(t, attacker, "evil"); m != "" {
		t.Fatalf("Loom wrote fail_mode %q to the attacker's bridge", m)
	}
}

// addLoopbackIPs puts ips (/32) on the loopback of lab namespace ns, for
// loomd and peers that talk TCP inside it.
func addLoopbackIPs(t *testing.T, ns string, ips ...string) {
	t.Helper()
	for _, ip := range ips {
		if out, err := exec.Command("ip", "-n", ns, "addr", "add", ip+"/32", "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add: %v %s", err, out)
		}
	}
}

// startLoomdIn runs loomd inside ns, listening for OpenFlow on listen.
func startLoomdIn(t *testing.T, lab *harness.Lab, ns, name, listen, config string) *harness.Process {
	t.Helper()
	cfg := writeConfig(t, lab, name+".yaml", config)
	p := lab.Start(name, ns, nil, loomdBin, "--openflow-listen", listen, "--db", filepath.Join(lab.Dir(), name+".db"),
		"--config", cfg, "--log-level", "debug", "--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	waitFor(t, name+" listening", 10*time.Second, func() bool { return strings.Contains(p.Log(), "accepting OpenFlow connections") })
	return p
}

// fakePeerFrom connects a fake switch announcing dpid to loomd at to,
// from address from, inside ns, and waits for loomd (log) to take it.
func fakePeerFrom(t *testing.T, ns, from, to string, l *harness.Process, dpid uint64, ports ...openflow.Port) *fakeswitch.Switch {
	t.Helper()
	before := strings.Count(l.Log(), "switch connected")
	var conn net.Conn
	if err := harness.InNS(ns, func() (err error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		conn, err = d.Dial("tcp", to)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sw := fakeswitch.Start(conn, dpid, ports...)
	t.Cleanup(sw.Close)
	waitFor(t, "loomd to take the peer", 10*time.Second, func() bool {
		return strings.Count(l.Log(), "switch connected") > before
	})
	return sw
}

// healthzIn reads loomd's /healthz, served on loopback inside ns.
func healthzIn(t *testing.T, ns string, l *harness.Process) string {
	t.Helper()
	return getIn(t, ns, l, "/healthz")
}

// getIn fetches path from loomd's metrics address, on loopback inside ns.
func getIn(t *testing.T, ns string, l *harness.Process, path string) string {
	t.Helper()
	addr := logAddr(t, l.Log(), reMetricsAddr)
	client := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(_ context.Context, network, a string) (c net.Conn, err error) {
			err = harness.InNS(ns, func() (err error) { c, err = net.DialTimeout(network, a, 5*time.Second); return err })
			return c, err
		}}}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// (d) A switch holding a datapath id must connect from the hypervisor
// whose OVSDB lists it before that OVSDB counts: a fake peer from another
// address announcing the dpid of a bridge that does name Loom gets no
// fail_mode written and no classification, and health says why; the same
// from the hypervisor's own address is secured (the control).
func TestIdentitySessionMustComeFromItsHypervisor(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	const loomIP, hvIP, strangerIP = "10.77.0.2", "10.77.0.11", "10.77.0.66"
	addLoopbackIPs(t, hv.NS, loomIP, hvIP, strangerIP)
	if out, err := exec.Command("ovs-appctl", "-t", filepath.Join(hv.RunDir, "ovsdb-server.ctl"), "ovsdb-server/add-remote", "ptcp:6640:"+hvIP).CombinedOutput(); err != nil {
		t.Fatalf("OVSDB over TCP: %v %s", err, out)
	}
	// Both bridges name Loom by a name OVS cannot resolve (so their real
	// switches never connect and the fake peers hold the dpids), which
	// Loom knows as its own from openflow.targets.
	const target = "tcp:loom.invalid:6653"
	stolen, mine := hv.AddBridge("vswitch02", 0xc1), hv.AddBridge("vswitch03", 0xc2)
	vm := hv.AddVM("centos01", stolen, "172.16.123.101/24")
	if _, err := hv.Vsctl("set", "Interface", vm.Port, "external_ids:attached-mac="+vm.MAC); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*harness.Bridge{stolen, mine} {
		b.SetController(target)
		if _, err := hv.Vsctl("clear", "Bridge", b.Name, "fail_mode"); err != nil {
			t.Fatal(err)
		}
	}
	l := startLoomdIn(t, lab, hv.NS, "loomd", "tcp:"+loomIP+":6653",
		fmt.Sprintf("hypervisors:\n  - {name: hv1, ovsdb: \"tcp:%s:6640\"}\nopenflow:\n  targets: [\"%s\"]\n", hvIP, target))
	waitFor(t, "loomd to read hv1's OVSDB", 10*time.Second, func() bool { return strings.Contains(l.Log(), "OVSDB connected and monitored") })
	to := net.JoinHostPort(loomIP, "6653")
	fakePeerFrom(t, hv.NS, strangerIP, to, l, stolen.DPID, openflow.Port{No: 1, Name: vm.Port})
	fakePeerFrom(t, hv.NS, hvIP, to, l, mine.DPID)
	waitFor(t, "Loom to secure the bridge whose switch connected from its hypervisor (control)", 15*time.Second, func() bool {
		return failMode(t, hv, mine.Name) == "secure"
	})
	time.Sleep(2 * time.Second) // two more passes over the OVSDB
	if m := failMode(t, hv, stolen.Name); m != "" {
		t.Fatalf("a peer from %s announcing hv1's bridge's dpid made Loom set its fail_mode to %q", strangerIP, m)
	}
	health := healthzIn(t, hv.NS, l)
	if !strings.Contains(health, "connected from "+strangerIP) || !strings.Contains(health, "not from hypervisor hv1") {
		t.Fatalf("health does not name the stranger:\n%s", health)
	}
	if strings.Contains(health, "0x00000000000000c2 (hv1/vswitch03): connected from") {
		t.Fatalf("health calls the switch from its own hypervisor a stranger:\n%s", health)
	}
}

// (c) With discovery off (the default), a connection from a host no
// hypervisor covers makes loomd dial nothing: a listener on that host's
// address, port 6640, inside a lab namespace, gets no connection. With
// the host's network allowed it does (the control: the test can see a
// dial).
func TestIdentityDiscoveryIsOptIn(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	ns := lab.Hypervisor("net").NS // a lab namespace for loomd and the peer's address
	const loomIP, peerIP = "10.77.0.2", "10.77.0.11"
	addLoopbackIPs(t, ns, loomIP, peerIP)
	var dialled atomic.Int32
	var ln net.Listener
	if err := harness.InNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(peerIP, "6640"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	to := net.JoinHostPort(loomIP, "6653")
	listen := "tcp:" + to
	off := startLoomdIn(t, lab, ns, "loomd-off", listen, "flows:\n  verify_interval: 1s\n")
	fakePeerFrom(t, ns, peerIP, to, off, 0xd1)
	time.Sleep(3 * time.Second) // discovery used to dial at once
	if n := dialled.Load(); n != 0 {
		t.Fatalf("with discovery off, loomd dialled the peer's address %d times", n)
	}
	if strings.Contains(off.Log(), "trying its OVSDB") {
		t.Fatal("with discovery off, loomd went looking for the peer's OVSDB")
	}
	if err := off.Stop(); err != nil {
		t.Logf("stopping loomd: %v", err)
	}

	on := startLoomdIn(t, lab, ns, "loomd-on", listen, "hypervisors_discovery:\n  allow: [10.77.0.0/24]\n")
	fakePeerFrom(t, ns, peerIP, to, on, 0xd1)
	waitFor(t, "discovery, allowed, to dial the peer's OVSDB", 10*time.Second, func() bool { return dialled.Load() > 0 })
}
