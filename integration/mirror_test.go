package integration

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/ovsdb/vswitch"
	"github.com/loomsdn/loom/topology"
)

// mirrorApp declares one port mirror on every bridge that has both ports
// (the frames of from, both ways, copied to to), and an egress policer
// on port limit.
type mirrorApp struct {
	from, to, limit string
	on              func() bool // whether it declares them now
}

func (mirrorApp) Name() string         { return "mirrortest" }
func (mirrorApp) ID() flow.AppID       { return 97 }
func (mirrorApp) Tables() []flow.Table { return nil }

func (a mirrorApp) BridgeRows(br apps.HypervisorBridge) []apps.BridgeRow {
	if !a.on() {
		return nil
	}
	uuids := map[string]string{}
	for _, p := range br.Ports {
		uuids[p.Name] = p.UUID
	}
	src, dst := uuids[a.from], uuids[a.to]
	if src == "" || dst == "" {
		return nil
	}
	return []apps.BridgeRow{{Column: "mirrors", Row: &vswitch.Mirror{Name: "loom-test", SelectSrcPort: []string{src},
		SelectDstPort: []string{src}, OutputPort: &dst}},
		{Port: a.limit, Column: "qos", Row: &vswitch.QoS{Type: "egress-policer", OtherConfig: map[string]string{"cir": "1250000", "cbs": "125000"}}}}
}

// A mirror and a port's QoS are rows like any other an app declares:
// made on the bridge (and port), stamped as the app's, the mirror copying
// the selected port's frames to the output port on real OVS; an
// operator's own mirror beside it is left alone; a changed mirror is put
// back; and both go when the app stops wanting them (the QoS row too,
// though its table is a root).
func TestMirrorAndQoSRowsAreReconciled(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	mon := hv.AddVM("monitor", br, "172.16.123.199/24")
	if _, err := hv.Vsctl("--", "--id=@m", "create", "Mirror", "name=operators", "select_all=true",
		"--", "add", "Bridge", br.Name, "mirrors", "@m"); err != nil {
		t.Fatal(err)
	}
	var on atomic.Bool
	on.Store(true)
	log, _ := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	top := topology.New()
	ctl, err := controller.New(controller.Config{Log: log, Topology: top},
		l2.New(l2.Options{}), mirrorApp{from: vm1.Port, to: mon.Port, limit: vm2.Port, on: on.Load})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(lab.Dir(), "mirror.sock")
	l, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { ctl.Serve(ctx, l); close(served) }()
	t.Cleanup(func() { cancel(); <-served; ctl.Close() })
	ctl.RunHypervisors(ctx, []topology.Hypervisor{{Name: hv.Name, OVSDB: "unix:" + filepath.Join(hv.RunDir, "db.sock")}})
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}

	mirror := func(name string) string {
		out, _ := hv.Vsctl("--columns=name,select_src_port,select_dst_port,output_port,external_ids", "find", "Mirror", "name="+name)
		return out
	}
	waitFor(t, "Loom's mirror on vswitch02", 15*time.Second, func() bool {
		return strings.Contains(mirror("loom-test"), "loom-owned=mirrortest")
	})
	qos := func() string {
		out, _ := hv.Vsctl("--columns=type,other_config,external_ids", "find", "QoS", "external_ids:loom-owned=mirrortest")
		return out
	}
	waitFor(t, "Loom's egress policer on vm2's port", 15*time.Second, func() bool {
		ref, _ := hv.Vsctl("get", "Port", vm2.Port, "qos")
		return strings.Contains(qos(), "egress-policer") && strings.Contains(qos(), `cir="1250000"`) && ref != "[]"
	})
	if out, _ := hv.Vsctl("get", "Bridge", br.Name, "mirrors"); strings.Count(out, ",") != 1 {
		t.Fatalf("the bridge's mirrors: %s (want the operator's and Loom's)", out)
	}
	txBefore := ifaceCounter(t, hv, mon.Port, "tx_packets")
	mustPing(t, vm1, vm2)
	waitFor(t, "vm1's frames copied to the monitor port", 15*time.Second, func() bool {
		mustPing(t, vm1, vm2)
		return ifaceCounter(t, hv, mon.Port, "tx_packets") > txBefore+4
	})

	// Someone widens Loom's mirror: it is put back.
	uuid, _ := hv.Vsctl("--bare", "--columns=_uuid", "find", "Mirror", "name=loom-test")
	if _, err := hv.Vsctl("set", "Mirror", strings.TrimSpace(uuid), "select_all=true"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the widened mirror repaired", 10*time.Second, func() bool {
		out, _ := hv.Vsctl("get", "Mirror", strings.TrimSpace(uuid), "select_all")
		return strings.TrimSpace(out) == "false"
	})

	on.Store(false)
	hv.Vsctl("set", "Bridge", br.Name, "external_ids:nudge=1") // an OVSDB change: the next pass
	waitFor(t, "Loom's mirror removed", 15*time.Second, func() bool { return mirror("loom-test") == "" })
	waitFor(t, "Loom's QoS row deleted with its reference", 15*time.Second, func() bool {
		ref, _ := hv.Vsctl("get", "Port", vm2.Port, "qos")
		return qos() == "" && ref == "[]"
	})
	if !strings.Contains(mirror("operators"), "operators") {
		t.Fatal("the operator's mirror went too")
	}
}

// ifaceCounter is one of an interface's statistics.
func ifaceCounter(t *testing.T, hv *harness.Hypervisor, iface, name string) int {
	t.Helper()
	out, err := hv.Vsctl("get", "Interface", iface, "statistics:"+name)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}
