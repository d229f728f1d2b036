package integration

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// inProcessLoom runs the controller inside the test (against the lab's
// real OVS), so a test can read its topology directly.
func inProcessLoom(t *testing.T, sockDir string, hvs ...topology.Hypervisor) (*controller.Controller, *topology.Topology, string) {
	t.Helper()
	top := topology.New()
	ctl, sock := inProcessLoomWith(t, sockDir, top, hvs, l2.New(l2.Options{}))
	return ctl, top, sock
}

func inProcessLoomWith(t *testing.T, sockDir string, top *topology.Topology, hvs []topology.Hypervisor, appList ...apps.App) (*controller.Controller, string) {
	t.Helper()
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log, Topology: top,
		OpenFlow: openflow.Config{EchoInterval: time.Second}}, appList...)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(sockDir, "inproc.sock")
	l, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { ctl.Serve(ctx, l); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	ctl.RunHypervisors(ctx, hvs)
	return ctl, sock
}

func portNamed(s topology.Snapshot, name string) (topology.Port, bool) {
	for _, p := range s.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return topology.Port{}, false
}

func TestTopologyKnowsVMPortsBeforeTheyTalk(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, _ := oneBridgeTwoVMs(t)
	if _, err := hv.Vsctl("set", "Interface", vm1.Port, "external_ids:attached-mac="+vm1.MAC,
		"external_ids:iface-id=port-uuid-1", "external_ids:vm-uuid=vm-uuid-centos01", "external_ids:iface-status=active"); err != nil {
		t.Fatal(err)
	}
	_, top, sock := inProcessLoom(t, lab.Dir(), topology.Hypervisor{Name: "hv1", OVSDB: "unix:" + filepath.Join(hv.RunDir, "db.sock")})
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	var port topology.Port
	waitFor(t, "the VM port with its libvirt identity", 10*time.Second, func() bool {
		var ok bool
		port, ok = portNamed(top.Snapshot(), vm1.Port)
		return ok && port.VM != nil
	})
	if port.Kind != topology.PortVM || port.VM.MAC != vm1.MAC || port.VM.UUID != "vm-uuid-centos01" || port.VM.IfaceID != "port-uuid-1" {
		t.Fatalf("VM port %+v (vm %+v)", port, port.VM)
	}
	s := top.Snapshot()
	if len(s.Switches) != 1 || s.Switches[0].Hypervisor != "hv1" || s.Switches[0].Bridge != "vswitch02" {
		t.Fatalf("switch %+v: not matched to its hypervisor by datapath id", s.Switches)
	}
	if len(s.Hosts) != 0 {
		t.Fatalf("hosts %+v before any packet", s.Hosts)
	}

	// Link down and up inside the VM: port events, each within a second.
	cur := top.Follow()
	for _, up := range []bool{false, true} {
		state := "down"
		if up {
			state = "up"
		}
		start := time.Now()
		if out, err := vm1.Exec("ip", "link", "set", "eth1", state); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		deadline := time.After(time.Second)
	wait:
		for {
			select {
			case <-cur.Ready():
				events, err := cur.Read()
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range events {
					if p, ok := e.Object.(topology.Port); ok && e.Kind == topology.KindPort && p.Name == vm1.Port && p.Up == up {
						t.Logf("port %s event after %v", state, time.Since(start).Round(time.Millisecond))
						break wait
					}
				}
			case <-deadline:
				t.Fatalf("no port-%s event within a second", state)
			}
		}
	}

	// OVSDB restarted: Loom reconnects, and sees changes made after.
	hv.RestartOVSDB()
	if _, err := hv.Vsctl("set", "Interface", vm1.Port, "external_ids:vm-uuid=vm-uuid-after-restart"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the view after the OVSDB restart", 20*time.Second, func() bool {
		p, ok := portNamed(top.Snapshot(), vm1.Port)
		return ok && p.VM != nil && p.VM.UUID == "vm-uuid-after-restart"
	})
	if h := top.Snapshot().Hypervisors[0]; !h.Connected {
		t.Fatalf("hypervisor %+v", h)
	}
}

func discardLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
