package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/etcdtest"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// clusterInstance is one loomd of a test cluster, reaching etcd through
// proxies of its own so a test can cut it off etcd alone.
type clusterInstance struct {
	*loomd
	name    string
	proxies []*etcdtest.Proxy
	cfg     string
}

func (ci *clusterInstance) start(t *testing.T) {
	ci.loomd.start(t, "--config", ci.cfg, "--instance", ci.name, "--etcd", strings.Join(etcdtest.URLs(ci.proxies), ","))
}

// startCluster runs n loomd instances on one config against etcd, and
// points every host's vswitch02 at all of them.
func startCluster(t *testing.T, lab *harness.Lab, etcd *etcdtest.Cluster, n int, cfgBody string, hosts ...*meshHost) []*clusterInstance {
	t.Helper()
	return startClusterWith(t, lab, etcd, n, cfgBody, "", hosts...)
}

// startClusterWith is startCluster with more of the cluster section
// (", tls: {...}").
func startClusterWith(t *testing.T, lab *harness.Lab, etcd *etcdtest.Cluster, n int, cfgBody, clusterExtra string, hosts ...*meshHost) []*clusterInstance {
	t.Helper()
	cfg := writeConfig(t, lab, "loom.yaml", cfgBody+"cluster: {rebalance_after: 2s"+clusterExtra+"}\n")
	var out []*clusterInstance
	var targets []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("loom%d", i+1)
		ci := &clusterInstance{name: name, proxies: etcdtest.Proxies(t, etcd), cfg: cfg,
			loomd: &loomd{lab: lab, sock: filepath.Join(lab.Dir(), name+".sock"), db: filepath.Join(lab.Dir(), name+".db")}}
		ci.start(t)
		out = append(out, ci)
		targets = append(targets, "unix:"+ci.sock)
	}
	// Stopped before the proxies close (cleanups run last first): an
	// instance cut off etcd at its stop would only wait for it.
	t.Cleanup(func() {
		for _, ci := range out {
			ci.proc.Stop()
		}
	})
	for _, h := range hosts {
		h.vs2.SetControllers(targets...)
	}
	return out
}

// switchRoles reads, from the switch's own OVSDB status, each of br's
// controllers' role: socket path -> master, slave or other. Only br's
// rows: another bridge of the host may point at the same instances.
func switchRoles(t *testing.T, br *harness.Bridge) map[string]string {
	t.Helper()
	ids, err := br.H.Vsctl("get", "Bridge", br.Name, "controller")
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, id := range strings.Split(strings.Trim(strings.TrimSpace(ids), "[]"), ",") {
		mine[strings.TrimSpace(id)] = true
	}
	out, err := br.H.Vsctl("--format=csv", "--data=bare", "--no-headings", "--columns=_uuid,target,role", "list", "Controller")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 3 || !mine[f[0]] {
			continue
		}
		path := strings.TrimPrefix(f[1], "unix:")
		if dest, err := os.Readlink(path); err == nil {
			path = dest
		}
		roles[path] = f[2]
	}
	return roles
}

// masterOf is the instance the switch itself says is its master, and how
// many controllers it calls master (never more than one).
func masterOf(t *testing.T, br *harness.Bridge, cl []*clusterInstance) (*clusterInstance, int) {
	t.Helper()
	roles := switchRoles(t, br)
	var m *clusterInstance
	n := 0
	for _, ci := range cl {
		if roles[ci.sock] == "master" {
			m = ci
			n++
		}
	}
	return m, n
}

func waitMaster(t *testing.T, br *harness.Bridge, cl []*clusterInstance, within time.Duration, not *clusterInstance) *clusterInstance {
	t.Helper()
	var m *clusterInstance
	waitFor(t, br.H.Name+": one master", within, func() bool {
		var n int
		m, n = masterOf(t, br, cl)
		if n > 1 {
			t.Fatalf("%s: %d controllers are master at once: %v", br.H.Name, n, switchRoles(t, br))
		}
		return m != nil && m != not
	})
	return m
}

// addLibvirtVM plugs a VM into h's vswitch02 with the external ids
// libvirt writes, so every instance knows it from OVSDB.
func addLibvirtVM(t *testing.T, h *meshHost, name, cidr string) *harness.VM {
	t.Helper()
	vm := h.hv.AddVM(name, h.vs2, cidr)
	if _, err := h.hv.Vsctl("set", "Interface", vm.Port, "external_ids:attached-mac="+vm.MAC, "external_ids:iface-id="+name); err != nil {
		t.Fatal(err)
	}
	return vm
}

// metric reads one of the instance's metrics.
func (ci *clusterInstance) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, body := get(t, "http://"+logAddr(t, ci.proc.Log(), reMetricsAddr)+"/metrics")
	return metric(t, body, name)
}

// flowChanges are the flow-mods a monitor saw.
func flowChanges(monitor *harness.Process) []string {
	var out []string
	for _, line := range strings.Split(monitor.Log(), "\n") {
		if strings.Contains(line, "event=DELETED") || strings.Contains(line, "event=MODIFIED") || strings.Contains(line, "event=ADDED") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// The seed scenario on a cluster: three etcd members, three loomd
// instances, two hypervisors pinging across the tunnel mesh every 10 ms.
// One election per switch, spread over the instances; a network added
// through a non-master's API lands on every switch; kill -9 of a master
// loses no ping and changes no flow, and the switch has a new master
// within the lease and a second; an instance cut off etcd demotes itself
// and another takes over, never two masters at once; a VM plugged in
// after the failures reaches the others.
func TestClusterFailsOverWithoutLoss(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3)
	lab := harness.New(t)
	hosts := meshLab(t, lab, lab.Fabric("underlay"), 1, []string{"b1"}, []string{"b2"})
	cl := startCluster(t, lab, etcd, 3, meshConfig("vxlan", hosts, ""), hosts...)
	for _, h := range hosts {
		waitMaster(t, h.vs2, cl, 20*time.Second, nil)
		waitFor(t, h.hv.Name+": Loom's tunnel port", 15*time.Second, func() bool {
			out, _ := h.hv.Vsctl("list-ports", "vswitch02")
			return strings.Contains(out, "loom-")
		})
	}
	b1, b2 := hosts[0].vms["b1"], hosts[1].vms["b2"]
	mustPing(t, b1, b2)

	// Every instance names the master the switch itself names (once the
	// start's rebalancing settled: OVS's role status lags seconds).
	agree := func() string {
		for _, ci := range cl {
			conn, ctx := ci.api(t)
			r, err := pb.NewTopologyServiceClient(conn).ListSwitches(ctx, &pb.ListSwitchesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, sw := range r.Switches {
				for _, h := range hosts {
					if m, _ := masterOf(t, h.vs2, cl); sw.Dpid == h.vs2.DPID && (m == nil || sw.Master != m.name) {
						return fmt.Sprintf("%s says %s's master is %q; the switch says %v", ci.name, h.hv.Name, sw.Master, switchRoles(t, h.vs2))
					}
				}
			}
		}
		return ""
	}
	deadline := time.Now().Add(20 * time.Second)
	for why := agree(); why != ""; why = agree() {
		if time.Now().After(deadline) {
			t.Fatal(why)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A network added through an instance that masters neither switch
	// (or the least busy one) reaches both switches, installed once by
	// each switch's master.
	m1, _ := masterOf(t, hosts[0].vs2, cl)
	m2, _ := masterOf(t, hosts[1].vs2, cl)
	var via *clusterInstance
	for _, ci := range cl {
		if ci != m1 && ci != m2 {
			via = ci
		}
	}
	if via == nil {
		via = cl[0]
	}
	conn, ctx := via.api(t)
	if _, err := pb.NewNetworkServiceClient(conn).AddNetwork(ctx, &pb.AddNetworkRequest{Network: &pb.Network{Name: "green", Vlan: 30, Vni: 5030, Ports: []string{"p-g*"}}}); err != nil {
		t.Fatalf("AddNetwork through %s: %v", via.name, err)
	}
	// Plain VMs (no libvirt ids): the masters learn them from packet-ins
	// alone, and share them through etcd.
	g1 := hosts[0].hv.AddVM("g1", hosts[0].vs2, "172.16.123.151/24")
	g2 := hosts[1].hv.AddVM("g2", hosts[1].vs2, "172.16.123.152/24")
	mustPing(t, g1, g2)

	// kill -9 the master of hv1's bridge while both VMs ping every 10 ms
	// and both tables are watched.
	for _, ci := range cl {
		ci.waitPersisted(t)
	}
	time.Sleep(time.Second) // the masters' last declarations reach etcd (asynchronous by design)
	var monitors []*harness.Process
	for _, h := range hosts {
		monitors = append(monitors, startFlowMonitor(t, lab, h.hv, h.vs2))
	}
	pinger := lab.Start("pinger", b1.NS, nil, "ping", "-i", "0.01", "-c", "1500", "-W", "1", b2.IP)
	time.Sleep(500 * time.Millisecond)
	victim, _ := masterOf(t, hosts[0].vs2, cl)
	takeovers := map[*clusterInstance]float64{}
	for _, ci := range cl {
		takeovers[ci] = ci.metric(t, "loom_cluster_takeovers_total")
	}
	victim.proc.Kill9()
	killed := time.Now()
	// The time to a confirmed takeover: an instance's takeover counter
	// moves once the switch's ROLE_REPLY made it MASTER and its table is
	// diffed (OVS's own role status in OVSDB lags by seconds).
	var next *clusterInstance
	waitFor(t, "a takeover", 10*time.Second, func() bool {
		for _, ci := range cl {
			if ci != victim && ci.metric(t, "loom_cluster_takeovers_total") > takeovers[ci] {
				next = ci
				return true
			}
		}
		return false
	})
	took := time.Since(killed)
	t.Logf("kill -9 of %s: %s took over after %s", victim.name, next.name, took.Round(time.Millisecond))
	if took > 3*time.Second+time.Second+200*time.Millisecond { // the lease, a second, and the test's polling
		t.Errorf("new master after %s; want within the lease (3s) + 1s", took)
	}
	next = waitMaster(t, hosts[0].vs2, cl, 10*time.Second, victim)

	// Cut the new master off etcd (not off OVS): it demotes itself, and
	// another instance (not the dead one) takes over.
	for _, p := range next.proxies {
		p.Cut()
	}
	third := waitMaster(t, hosts[0].vs2, cl, 10*time.Second, next)
	if third == victim {
		t.Fatalf("the killed instance is master")
	}
	waitFor(t, next.name+" says it stepped down", 5*time.Second, func() bool {
		return strings.Contains(next.proc.Log(), "no longer master of this switch")
	})
	for _, p := range next.proxies {
		p.Mend()
	}

	if err := pinger.Wait(60 * time.Second); err != nil {
		t.Fatalf("ping across the failovers: %v\n%s", err, pinger.Log())
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Errorf("pings lost across the failovers:\n%s", tailLines(pinger.Log(), 3))
	}
	for i, mon := range monitors {
		if ch := flowChanges(mon); len(ch) > 0 {
			t.Errorf("%s: the failovers changed %d flows:\n%s", hosts[i].hv.Name, len(ch), strings.Join(ch, "\n"))
		}
	}
	for _, h := range hosts {
		if _, n := masterOf(t, h.vs2, cl); n != 1 {
			t.Errorf("%s: %d masters after the failovers: %v", h.hv.Name, n, switchRoles(t, h.vs2))
		}
	}

	// A VM plugged in after the failures reaches the others.
	b3 := addLibvirtVM(t, hosts[0], "b3", "172.16.123.113/24")
	mustPing(t, b3, b2)
	// etcd loses one member of three: nothing changes. Two: the switches
	// keep forwarding on what is installed, API writes are refused with a
	// clear error, and everything comes back with the members.
	etcd.Member(0).Kill9()
	mustPing(t, b3, b2)
	if err := etcd.WaitHealthy(10 * time.Second); err != nil { // a new etcd leader, if the killed one led
		t.Fatal(err)
	}
	survivor := cl[0]
	if survivor == victim {
		survivor = cl[1]
	}
	nets := func() pb.NetworkServiceClient {
		conn, _ := survivor.api(t)
		return pb.NewNetworkServiceClient(conn)
	}()
	add := func(name string, vlan, vni uint32) error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err := nets.AddNetwork(ctx, &pb.AddNetworkRequest{Network: &pb.Network{Name: name, Vlan: vlan, Vni: vni, Ports: []string{"p-" + name + "*"}}})
		return err
	}
	if err := add("yellow", 40, 5040); err != nil {
		t.Fatalf("AddNetwork with one etcd member of three down: %v", err)
	}
	etcd.Member(1).Kill9()
	pinger = lab.Start("pinger", b3.NS, nil, "ping", "-i", "0.01", "-c", "500", "-W", "1", b2.IP)
	if err := add("purple", 50, 5050); err == nil || !strings.Contains(err.Error(), "etcd may still commit it") {
		t.Errorf("AddNetwork without an etcd quorum: %v; want a clear refusal", err)
	} else {
		t.Logf("AddNetwork without a quorum: %v", err)
	}
	if err := pinger.Wait(30 * time.Second); err != nil || !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Errorf("ping without an etcd quorum: %v\n%s", err, tailLines(pinger.Log(), 3))
	}
	for _, i := range []int{0, 1} {
		if err := etcd.Member(i).Restart(); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	deadline = time.Now().Add(30 * time.Second)
	// The refused write may still land once the quorum is back (etcd had
	// it in its log; the error said so): then it is there, not twice.
	for lastErr = add("purple", 50, 5050); lastErr != nil && time.Now().Before(deadline); lastErr = add("purple", 50, 5050) {
		if status.Code(lastErr) == codes.AlreadyExists {
			lastErr = nil
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("API writes after etcd's quorum came back: %v\n%s", lastErr, etcd.Logs())
	}
	for _, h := range hosts {
		waitMaster(t, h.vs2, cl, 20*time.Second, victim)
	}
	mustPing(t, b3, b2)

	// The killed instance comes back: after rebalance_after its
	// switches (rendezvous hashing prefers it for them, which is why it
	// was their master) move back to it, without a lost ping or a flow
	// changed.
	monitors = monitors[:0]
	for _, h := range hosts {
		monitors = append(monitors, startFlowMonitor(t, lab, h.hv, h.vs2))
	}
	pinger = lab.Start("pinger", b1.NS, nil, "ping", "-i", "0.01", "-c", "1500", "-W", "1", b2.IP)
	victim.start(t)
	waitFor(t, victim.name+" master of hv1's bridge again", 30*time.Second, func() bool { // OVS's role status lags a few seconds
		m, n := masterOf(t, hosts[0].vs2, cl)
		if n > 1 {
			t.Fatalf("two masters during the rebalance: %v", switchRoles(t, hosts[0].vs2))
		}
		return m == victim
	})
	if err := pinger.Wait(60 * time.Second); err != nil || !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Errorf("ping across the rebalance: %v\n%s", err, tailLines(pinger.Log(), 3))
	}
	for i, mon := range monitors {
		if ch := flowChanges(mon); len(ch) > 0 {
			t.Errorf("%s: the rebalance changed %d flows:\n%s", hosts[i].hv.Name, len(ch), strings.Join(ch, "\n"))
		}
	}

	// The instances stop cleanly and promptly (SIGTERM), handing their
	// switches over as they leave.
	for _, ci := range cl {
		start := time.Now()
		if err := ci.proc.Stop(); err != nil {
			t.Errorf("%s did not stop cleanly after %s: %v\n%s", ci.name, time.Since(start), err, tailLines(ci.proc.Log(), 80))
		}
		for _, line := range ci.problems() {
			if strings.Contains(line, "panic") {
				t.Errorf("%s: %s", ci.name, line)
			}
		}
	}
}
