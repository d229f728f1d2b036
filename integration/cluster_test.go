package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/etcdtest"
	pb "github.com/loomsdn/loom/proto/loom/v1"
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
	cfg := writeConfig(t, lab, "loom.yaml", cfgBody+"cluster: {rebalance_after: 2s}\n")
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
	for _, h := range hosts {
		h.vs2.SetControllers(targets...)
	}
	return out
}

// switchRoles reads, from the switch's own OVSDB status, each controller's
// role on br: socket path -> master, slave or other.
func switchRoles(t *testing.T, br *harness.Bridge) map[string]string {
	t.Helper()
	out, err := br.H.Vsctl("--format=csv", "--data=bare", "--no-headings", "--columns=target,role", "list", "Controller")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		target, role, ok := strings.Cut(line, ",")
		if !ok {
			continue
		}
		path := strings.TrimPrefix(target, "unix:")
		if real, err := os.Readlink(path); err == nil {
			path = real
		}
		roles[path] = role
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

	// Every instance names the same master for each switch.
	for _, ci := range cl {
		conn, ctx := ci.api(t)
		r, err := pb.NewTopologyServiceClient(conn).ListSwitches(ctx, &pb.ListSwitchesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, sw := range r.Switches {
			for _, h := range hosts {
				if sw.Dpid == h.vs2.DPID {
					m, _ := masterOf(t, h.vs2, cl)
					if sw.Master != m.name {
						t.Errorf("%s says %s's master is %q; the switch says %s", ci.name, h.hv.Name, sw.Master, m.name)
					}
				}
			}
		}
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
	victim.proc.Kill9()
	killed := time.Now()
	next := waitMaster(t, hosts[0].vs2, cl, 10*time.Second, victim)
	took := time.Since(killed)
	t.Logf("kill -9 of %s: %s is master of hv1's bridge after %s", victim.name, next.name, took.Round(time.Millisecond))
	if took > 3*time.Second+time.Second+500*time.Millisecond { // the lease, a second, and the test's polling
		t.Errorf("new master after %s; want within the lease (3s) + 1s", took)
	}

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
	b3 := hosts[0].hv.AddVM("b3", hosts[0].vs2, "172.16.123.113/24")
	mustPing(t, b3, b2)
	for _, ci := range cl {
		if ci == victim {
			continue
		}
		for _, line := range ci.problems() {
			if strings.Contains(line, "panic") {
				t.Errorf("%s: %s", ci.name, line)
			}
		}
	}
}
