package integration

import (
	"encoding/hex"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/apps/discovery"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/topology"
)

func ofport(t *testing.T, hv *harness.Hypervisor, name string) uint32 {
	t.Helper()
	n, err := hv.OfPort(name)
	if err != nil {
		t.Fatal(err)
	}
	return uint32(n)
}

// addPatchPair joins vswitch01 and vswitch02 with a patch-port pair, the
// way an uplink bridge and a VM bridge are joined on a KVM host.
func addPatchPair(t *testing.T, hv *harness.Hypervisor) {
	t.Helper()
	if _, err := hv.Vsctl("add-port", "vswitch01", "patch-01-02", "--", "set", "Interface", "patch-01-02", "type=patch", "options:peer=patch-02-01",
		"--", "add-port", "vswitch02", "patch-02-01", "--", "set", "Interface", "patch-02-01", "type=patch", "options:peer=patch-01-02"); err != nil {
		t.Fatal(err)
	}
}

func TestLLDPFindsPatchLinksAndRejectsForgeries(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	uplink := hv.AddBridge("vswitch01", 0xa1)
	vmbr := hv.AddBridge("vswitch02", 0xc1)
	vm1 := hv.AddVM("centos01", vmbr, "172.16.123.101/24")  // a VM port: libvirt ids below
	vm2 := hv.AddVM("other", vmbr, "172.16.123.102/24")     // no ids: a system port, gets probes
	relay := hv.AddVM("relay", uplink, "172.16.123.103/24") // a system port on the other bridge
	if _, err := hv.Vsctl("set", "Interface", vm1.Port, "external_ids:attached-mac="+vm1.MAC, "external_ids:vm-uuid=vm-1"); err != nil {
		t.Fatal(err)
	}
	addPatchPair(t, hv)
	const every = 300 * time.Millisecond
	top := topology.New()
	disc := discovery.New(top, every)
	_, sock := inProcessLoomWith(t, lab.Dir(), top, []topology.Hypervisor{{Name: "hv1", OVSDB: "unix:" + filepath.Join(hv.RunDir, "db.sock")}},
		l2.New(l2.Options{}), disc)
	for _, br := range []*harness.Bridge{uplink, vmbr} {
		br.SetController("unix:" + sock)
		if err := br.WaitConnected(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	want := topology.NewLink(topology.Endpoint{DPID: 0xa1, Port: ofport(t, hv, "patch-01-02")}, topology.Endpoint{DPID: 0xc1, Port: ofport(t, hv, "patch-02-01")})
	waitFor(t, "the patch link", 10*time.Second, func() bool {
		l := top.Snapshot().Links
		return len(l) == 1 && l[0] == want
	})

	send := func(vm *harness.VM, frame []byte) {
		t.Helper()
		if out, err := vm.Exec(rawframeBin, "send", "eth1", hex.EncodeToString(frame)); err != nil {
			t.Fatalf("rawframe send: %v %s", err, out)
		}
	}

	// A forged probe (right format, wrong key) claiming the uplink's patch
	// port, sent from the system port: refused by its HMAC.
	forged := discovery.Probe([]byte("not loom's key"), [6]byte{2}, 0xa1, want.A.Port, time.Now().UnixNano())
	send(vm2, forged)
	waitFor(t, "the forged probe refused", 5*time.Second, func() bool { return disc.Rejected("bad HMAC") >= 1 })

	// A genuine probe, captured where Loom sent it and replayed later:
	// refused as stale.
	out, err := vm2.Exec(rawframeBin, "capture", "eth1", "88cc", "5s")
	if err != nil {
		t.Fatalf("capturing a probe: %v %s", err, out)
	}
	genuine, _ := hex.DecodeString(strings.TrimSpace(out))
	time.Sleep(4 * every)
	send(vm2, genuine)
	waitFor(t, "the replayed probe refused", 5*time.Second, func() bool { return disc.Rejected("stale (replayed?)") >= 1 })

	// A genuine probe relayed at once into a port of the other bridge (a
	// host on each side, copying what it hears one way): fresh and
	// signed, but heard one way only, so no link.
	// Watched throughout: a link made by a relay lasts only until it
	// expires (three periods).
	extra := make(chan []topology.Link, 1)
	stop := make(chan struct{})
	go func() {
		defer close(extra)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if l := top.Snapshot().Links; len(l) != 1 || l[0] != want {
				extra <- l
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		out, err := vm2.Exec(rawframeBin, "capture", "eth1", "88cc", "5s")
		if err != nil {
			t.Fatalf("capturing a probe to relay: %v %s", err, out)
		}
		fresh, _ := hex.DecodeString(strings.TrimSpace(out))
		send(relay, fresh)
	}
	time.Sleep(2 * every)
	close(stop)
	if l, bad := <-extra; bad {
		t.Fatalf("links after relaying probes one way: %+v, want only %v", l, want)
	}

	// From the VM port the same forgery never reaches Loom: the switch
	// drops LLDP there.
	waitFor(t, "the VM port's LLDP drop flow", 10*time.Second, func() bool {
		flows, _ := vmbr.DumpFlows()
		return containsLine(flows, "in_port="+strconv.Itoa(int(ofport(t, hv, vm1.Port)))+",dl_type=0x88cc")
	})
	before := disc.Rejected("bad HMAC")
	send(vm1, forged)
	waitFor(t, "the drop flow to count the frame", 5*time.Second, func() bool {
		flows, _ := vmbr.DumpFlows()
		for _, f := range flows {
			if strings.Contains(f, "dl_type=0x88cc") && strings.Contains(f, "in_port="+strconv.Itoa(int(ofport(t, hv, vm1.Port)))) {
				return !strings.Contains(f, "n_packets=0,")
			}
		}
		return false
	})
	if disc.Rejected("bad HMAC") != before || disc.Rejected("arrived on a VM port") != 0 {
		t.Fatal("LLDP from a VM port reached the controller")
	}
	if l := top.Snapshot().Links; len(l) != 1 || l[0] != want {
		t.Fatalf("links after the forgeries: %+v", l)
	}

	// Removing the patch ports removes the link.
	if _, err := hv.Vsctl("del-port", "vswitch01", "patch-01-02", "--", "del-port", "vswitch02", "patch-02-01"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the link gone", 10*time.Second, func() bool { return len(top.Snapshot().Links) == 0 })
}
