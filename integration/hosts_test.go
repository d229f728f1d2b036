package integration

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/loomsdn/loom/apps/discovery"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

func hostByMAC(s topology.Snapshot, mac string) (topology.Host, bool) {
	for _, h := range s.Hosts {
		if h.MAC == mac {
			return h, true
		}
	}
	return topology.Host{}, false
}

func TestAVMCannotStealAnotherVMsMAC(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	top := topology.New()
	learner := l2.New(l2.Options{Topology: top, HoldDown: time.Hour})
	_, sock := inProcessLoomWith(t, lab.Dir(), top, []topology.Hypervisor{{Name: "hv1", OVSDB: "unix:" + filepath.Join(hv.RunDir, "db.sock")}}, learner)
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Hosts, with the IPs their ARP gave away.
	waitFor(t, "both hosts with their IPs", 5*time.Second, func() bool {
		s := top.Snapshot()
		h1, ok1 := hostByMAC(s, vm1.MAC)
		h2, ok2 := hostByMAC(s, vm2.MAC)
		return ok1 && ok2 && reflect.DeepEqual(h1.IPs, []string{vm1.IP}) && reflect.DeepEqual(h2.IPs, []string{vm2.IP})
	})
	mac1, _ := flow.ParseMAC(vm1.MAC)
	port1 := ofport(t, hv, vm1.Port)

	// vm2 sends frames with vm1's MAC as their source.
	forged := append(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, mac1[:]...), 0x08, 0x00)
	forged = append(forged, make([]byte, 46)...)
	for i := 0; i < 5; i++ {
		if out, err := vm2.Exec(rawframeBin, "send", "eth1", hex.EncodeToString(forged)); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	time.Sleep(500 * time.Millisecond) // let any (wrong) move happen
	if p, ok := learner.Lookup(br.DPID, mac1); !ok || p != port1 {
		t.Fatalf("vm1's MAC is on port %d (known %v) after vm2 forged it; want %d", p, ok, port1)
	}
	if h, _ := hostByMAC(top.Snapshot(), vm1.MAC); h.Port != port1 {
		t.Fatalf("host %s moved to port %d", vm1.MAC, h.Port)
	}
	if err := vm2.Ping(vm1.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("vm2 cannot reach vm1 after the attempt: %v", err)
	}
}

func TestTopologySurvivesARestartAndConverges(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	uplink := hv.AddBridge("vswitch01", 0xa1)
	vmbr := hv.AddBridge("vswitch02", 0xc1)
	vm1 := hv.AddVM("centos01", vmbr, "172.16.123.101/24")
	vm2 := hv.AddVM("centos02", vmbr, "172.16.123.102/24")
	hv.Vsctl("set", "Interface", vm1.Port, "external_ids:attached-mac="+vm1.MAC, "external_ids:vm-uuid=vm-1")
	addPatchPair(t, hv)
	dbPath := filepath.Join(lab.Dir(), "loom.db")
	hvs := []topology.Hypervisor{{Name: "hv1", OVSDB: "unix:" + filepath.Join(hv.RunDir, "db.sock")}}

	// run is one controller process: restore, serve, persist; stop ends it.
	run := func(top *topology.Topology) (stop func()) {
		db, err := store.Open(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		if data, _ := db.LoadTopology(); data != nil {
			if err := top.Restore(data); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		persisted := make(chan struct{})
		go func() { controller.PersistTopology(ctx, top, db, 50*time.Millisecond, discardLog()); close(persisted) }()
		sub := t.TempDir()
		_, sock := inProcessLoomWith(t, sub, top, hvs, l2.New(l2.Options{Topology: top}), discovery.New(top, 300*time.Millisecond))
		for _, br := range []*harness.Bridge{uplink, vmbr} {
			br.SetController("unix:" + sock)
		}
		return func() {
			for _, br := range []*harness.Bridge{uplink, vmbr} {
				br.DelController()
			}
			cancel()
			<-persisted
			db.Close()
		}
	}

	first := topology.New()
	stop := run(first)
	waitFor(t, "switches and the link", 20*time.Second, func() bool {
		s := first.Snapshot()
		return len(s.Switches) == 2 && len(s.Links) == 1
	})
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "hosts learned", 5*time.Second, func() bool {
		_, ok1 := hostByMAC(first.Snapshot(), vm1.MAC)
		_, ok2 := hostByMAC(first.Snapshot(), vm2.MAC)
		return ok1 && ok2
	})
	time.Sleep(200 * time.Millisecond) // one persist interval
	stop()
	before := first.Snapshot()

	// A new process reads back exactly what the first one knew.
	second := topology.New()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := db.LoadTopology()
	db.Close()
	if err := second.Restore(data); err != nil {
		t.Fatal(err)
	}
	restored := second.Snapshot()
	if !sameModel(before, restored) {
		t.Fatalf("read back from bbolt:\n%+v\nbefore the restart:\n%+v", restored, before)
	}
	// Then it converges to the live network: connected again, same shape.
	second = topology.New()
	stop = run(second)
	defer stop()
	waitFor(t, "the restarted model to converge", 20*time.Second, func() bool {
		s := second.Snapshot()
		return len(s.Switches) == 2 && s.Switches[0].Connected && s.Switches[1].Connected && s.Hypervisors[0].Connected && len(s.Links) == 1
	})
}

// sameModel compares two models ignoring connection state and revision.
func sameModel(a, b topology.Snapshot) bool {
	norm := func(s topology.Snapshot) topology.Snapshot {
		s.Revision = 0
		for i := range s.Switches {
			s.Switches[i].Connected = false
		}
		for i := range s.Ports { // a port shows up only while its switch is connected
			s.Ports[i].Up = false
		}
		for i := range s.Hypervisors {
			s.Hypervisors[i].Connected = false
			s.Hypervisors[i].Error = ""
		}
		return s
	}
	// JSON, not DeepEqual: a restored time has no monotonic reading.
	return jsonOf(norm(a)) == jsonOf(norm(b))
}
