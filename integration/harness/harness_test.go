package harness

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newCheckedLab creates a lab and, through a cleanup registered before the
// lab's own (so it runs after it), verifies the lab left no namespace,
// process or directory behind.
func newCheckedLab(t *testing.T) *Lab {
	t.Helper()
	var l *Lab
	t.Cleanup(func() {
		if l != nil {
			assertGone(t, l)
		}
	})
	l = New(t)
	return l
}

// assertGone fails t if anything of l survived Close.
func assertGone(t *testing.T, l *Lab) {
	t.Helper()
	out, err := run(cmdTimeout, nil, "ip", "netns", "list")
	if err != nil {
		t.Errorf("ip netns list: %v", err)
	}
	if strings.Contains(out, "lm"+l.ID()+"-") {
		t.Errorf("namespaces of lab %s left behind:\n%s", l.ID(), out)
	}
	l.mu.Lock()
	procs := append([]*Process(nil), l.procs...)
	l.mu.Unlock()
	for _, p := range procs {
		if !p.Exited() {
			t.Errorf("process %s still running after Close", p)
		}
	}
	if _, err := os.Stat(l.Dir()); !os.IsNotExist(err) {
		t.Errorf("lab dir %s still exists (stat: %v)", l.Dir(), err)
	}
}

// twoVMs builds the common topology: hypervisor hv1, bridge br0, VMs vm1
// (10.0.0.1) and vm2 (10.0.0.2) on br0.
func twoVMs(t *testing.T, l *Lab) (*Hypervisor, *Bridge, *VM, *VM) {
	t.Helper()
	h := l.Hypervisor("hv1")
	br := h.AddBridge("br0", 0x1)
	vm1 := h.AddVM("vm1", br, "10.0.0.1/24")
	vm2 := h.AddVM("vm2", br, "10.0.0.2/24")
	return h, br, vm1, vm2
}

func TestSecureBlocksStandaloneForwards(t *testing.T) {
	l := newCheckedLab(t)
	h, br, vm1, vm2 := twoVMs(t, l)

	// The bridge is configured the way the controller will expect it.
	for col, want := range map[string]string{
		"datapath_type": "netdev",
		"fail_mode":     "secure",
		"protocols":     "OpenFlow13",
		"datapath_id":   "0000000000000001",
	} {
		got, err := h.Vsctl("get", "Bridge", br.Name, col)
		got = strings.Trim(got, `[]"`) // `get` quotes strings and brackets sets
		if err != nil || got != want {
			t.Errorf("bridge %s = %q (err %v), want %q", col, got, err, want)
		}
	}
	if vm1.MAC != "02:00:00:00:00:01" || vm2.MAC != "02:00:00:00:00:02" {
		t.Errorf("MACs %s %s, want counter-derived 02:00:00:00:00:01/02", vm1.MAC, vm2.MAC)
	}
	if out, err := vm1.Exec("ip", "link", "show", "eth1"); err != nil || !strings.Contains(out, vm1.MAC) {
		t.Errorf("eth1 of vm1 does not carry %s: %v\n%s", vm1.MAC, err, out)
	}
	p1, err1 := h.OfPort(vm1.Port)
	p2, err2 := vm2.OfPort()
	if err1 != nil || err2 != nil || p1 == p2 {
		t.Errorf("ofports %d (%v), %d (%v): want two distinct ports", p1, err1, p2, err2)
	}

	// Secure mode without a controller: empty flow table, nothing forwarded.
	flows, err := br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 0 {
		t.Errorf("secure bridge without controller has flows: %q", flows)
	}
	if vm1.CanPing(vm2.IP) {
		t.Fatalf("%s reached %s through a secure bridge without controller", vm1.Name, vm2.IP)
	}
	if br.IsConnected() {
		t.Errorf("IsConnected true without a controller")
	}

	// Standalone mode: OVS falls back to a NORMAL learning switch.
	br.SetFailMode("standalone")
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := vm2.Ping(vm1.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	flows, err = br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || !strings.Contains(flows[0], "actions=NORMAL") {
		t.Errorf("standalone flows = %q, want the single NORMAL flow", flows)
	}
	// The NORMAL action learned both VMs' MACs.
	fdb, err := h.Appctl("fdb/show", br.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range []*VM{vm1, vm2} {
		if !strings.Contains(fdb, vm.MAC) {
			t.Errorf("fdb of %s lacks %s:\n%s", br.Name, vm.MAC, fdb)
		}
	}
}

func TestTCPBetweenVMs(t *testing.T) {
	if _, err := exec.LookPath("nc"); err != nil {
		t.Skip("nc (netcat-openbsd) not installed")
	}
	l := newCheckedLab(t)
	_, br, vm1, vm2 := twoVMs(t, l)
	br.SetFailMode("standalone")

	listener := l.Start("nc-listen", vm2.NS, nil, "nc", "-l", "-p", "8080")
	const msg = "hello-over-tcp"
	// Retry until the listener is up; -N closes the connection at EOF so the
	// listener sees the end of the stream and exits.
	err := waitFor(10*time.Second, 200*time.Millisecond, func() error {
		_, err := vm1.Exec("sh", "-c", "echo "+msg+" | nc -N -w 3 "+vm2.IP+" 8080")
		return err
	})
	if err != nil {
		t.Fatalf("TCP from %s to %s:8080: %v", vm1.Name, vm2.IP, err)
	}
	if err := listener.Wait(10 * time.Second); err != nil {
		t.Fatalf("listener: %v\n%s", err, listener.Log())
	}
	if got := listener.Log(); !strings.Contains(got, msg) {
		t.Fatalf("listener received %q, want %q", got, msg)
	}
}

// Two labs with identical names, addresses and datapath ids run at the same
// time without seeing each other.
func TestParallelLabsDoNotCollide(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := newCheckedLab(t)
			h, br, vm1, vm2 := twoVMs(t, l)
			br.SetFailMode("standalone")
			if err := vm1.Ping(vm2.IP, 5, 15*time.Second); err != nil {
				t.Fatal(err)
			}
			ports, err := h.Vsctl("list-ports", br.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Fields(ports); len(got) != 2 {
				t.Errorf("bridge has ports %q, want exactly this lab's two", got)
			}
		})
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	l := New(t)
	h, _, vm1, _ := twoVMs(t, l)
	sleeper := l.Start("sleeper", vm1.NS, nil, "sleep", "600")
	namespaces := []string{h.NS, vm1.NS}

	l.Close()
	l.Close() // idempotent

	out, err := run(cmdTimeout, nil, "ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range namespaces {
		if strings.Contains(out, ns) {
			t.Errorf("namespace %s survived Close", ns)
		}
	}
	if !sleeper.Exited() || !h.Vswitchd().Exited() {
		t.Errorf("processes survived Close: sleeper exited=%v vswitchd exited=%v",
			sleeper.Exited(), h.Vswitchd().Exited())
	}
	assertGone(t, l)
}

func TestVswitchdCrashAndRestart(t *testing.T) {
	l := newCheckedLab(t)
	h, br, vm1, vm2 := twoVMs(t, l)
	br.SetFailMode("standalone")
	if err := vm1.Ping(vm2.IP, 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	before, err := vm1.OfPort()
	if err != nil {
		t.Fatal(err)
	}
	old := h.Vswitchd()

	h.KillVswitchd()
	if !old.Exited() {
		t.Fatal("ovs-vswitchd still running after KillVswitchd")
	}
	if vm1.CanPing(vm2.IP) {
		t.Fatal("traffic forwarded with ovs-vswitchd dead")
	}

	h.StartVswitchd()
	if h.Vswitchd() == old || h.Vswitchd().Exited() {
		t.Fatal("StartVswitchd did not start a new ovs-vswitchd")
	}
	if err := vm1.Ping(vm2.IP, 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if after, err := vm1.OfPort(); err != nil || after != before {
		t.Errorf("ofport after restart %d (%v), want %d", after, err, before)
	}
}

// A minimal OpenFlow 1.3 peer (it only says HELLO) is enough for OVS to
// consider the controller connected.
func TestControllerConnection(t *testing.T) {
	l := newCheckedLab(t)
	h := l.Hypervisor("hv1")
	br := h.AddBridge("br0", 0xabc)

	sock := filepath.Join(l.Dir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		hello := make([]byte, 8)
		hello[0] = 0x04 // OpenFlow 1.3
		hello[1] = 0x00 // OFPT_HELLO
		binary.BigEndian.PutUint16(hello[2:], 8)
		c.Write(hello)
		conns <- c
		io.Copy(io.Discard, c) // swallow FEATURES_REQUEST etc.
	}()

	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !br.IsConnected() {
		t.Fatal("IsConnected false after WaitConnected succeeded")
	}

	// Flows can be managed directly on the management socket, and
	// DumpFlows returns them without the reply header.
	if out, err := br.Ofctl("add-flow", "priority=7,ip,nw_dst=10.9.9.9,actions=drop"); err != nil {
		t.Fatalf("add-flow: %v\n%s", err, out)
	}
	flows, err := br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || !strings.Contains(flows[0], "priority=7,ip,nw_dst=10.9.9.9") {
		t.Errorf("flows = %q, want the one added", flows)
	}

	// Dropping the controller is noticed (within OVS's 5s status refresh).
	ln.Close()
	(<-conns).Close()
	err = waitFor(15*time.Second, 100*time.Millisecond, func() error {
		if br.IsConnected() {
			return os.ErrExist
		}
		return nil
	})
	if err != nil {
		t.Errorf("still connected after the controller went away")
	}

	br.DelController()
	if got, err := h.Vsctl("get", "Bridge", br.Name, "controller"); err != nil || got != "[]" {
		t.Errorf("controllers after DelController: %q (%v)", got, err)
	}
}
