package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Bridge is an OVS bridge on a hypervisor, speaking OpenFlow 1.3 only.
type Bridge struct {
	Name string
	DPID uint64
	H    *Hypervisor
}

// AddBridge creates a userspace-datapath bridge with a fixed datapath id, in
// fail_mode=secure (no forwarding without a controller) and OpenFlow 1.3
// only. It fails the test on error.
func (h *Hypervisor) AddBridge(name string, dpid uint64) *Bridge {
	l := h.lab
	l.t.Helper()
	l.checkName("bridge", name)
	_, err := h.Vsctl("add-br", name, "--", "set", "Bridge", name,
		"datapath_type=netdev",
		fmt.Sprintf("other-config:datapath-id=%016x", dpid),
		"fail_mode=secure",
		"protocols=OpenFlow13")
	if err != nil {
		l.t.Fatalf("harness: hypervisor %s: add bridge: %v", h.Name, err)
	}
	b := &Bridge{Name: name, DPID: dpid, H: h}
	// ovs-vsctl returned after vswitchd applied the change, but be sure the
	// management socket answers before handing the bridge out.
	if err := waitFor(10*time.Second, 50*time.Millisecond, func() error {
		_, err := b.Ofctl("show")
		return err
	}); err != nil {
		l.t.Fatalf("harness: bridge %s: %v", name, err)
	}
	h.mu.Lock()
	h.bridges = append(h.bridges, b)
	h.mu.Unlock()
	return b
}

// mgmt is the bridge's OpenFlow management socket, which accepts ovs-ofctl
// connections regardless of controllers and fail mode.
func (b *Bridge) mgmt() string { return "unix:" + filepath.Join(b.H.RunDir, b.Name+".mgmt") }

// SetController points the bridge at an OpenFlow controller, e.g.
// "unix:/tmp/loom123/loom.sock" or "tcp:127.0.0.1:6653".
//
// ovs-vswitchd refuses unix controller sockets outside its OVS_RUNDIR
// ("possibility for remote exploit"), so for a unix target elsewhere the lab
// puts a symlink to it into the hypervisor's RunDir and configures that
// path instead: the controller can listen anywhere, e.g. in Lab.Dir(), and
// serve every hypervisor. The Controller record therefore shows the symlink.
//
// ovs-vswitchd runs in the hypervisor's namespace, so a TCP target is
// reached from there: 127.0.0.1 is the hypervisor's own loopback, not the
// root namespace's. Prefer unix sockets, or run the controller in h.NS.
//
// The controller is set out-of-band (no hidden in-band flows) with the
// reconnect backoff capped at 1s, so a restarted controller is picked up
// quickly.
func (b *Bridge) SetController(target string) { b.SetControllers(target) }

// SetControllers points the bridge at several controllers at once, as
// `ovs-vsctl set-controller BR T1 T2` does (see SetController).
func (b *Bridge) SetControllers(targets ...string) {
	t := b.H.lab.t
	t.Helper()
	// One Controller row per target, made in one transaction (a bridge
	// with several controllers cannot name them by the bridge's name).
	var args, ids []string
	for i, target := range targets {
		target, err := b.H.permittedTarget(target)
		if err != nil {
			t.Fatalf("harness: bridge %s: set controller: %v", b.Name, err)
		}
		id := fmt.Sprintf("@c%d", i)
		ids = append(ids, id)
		args = append(args, "--", "--id="+id, "create", "Controller", `target="`+target+`"`,
			"connection_mode=out-of-band", "max_backoff=1000")
	}
	args = append(args, "--", "set", "Bridge", b.Name, "controller=["+strings.Join(ids, ",")+"]")
	if _, err := b.H.Vsctl(args[1:]...); err != nil {
		t.Fatalf("harness: bridge %s: set controller: %v", b.Name, err)
	}
}

// permittedTarget rewrites a "unix:PATH" controller target outside RunDir
// into a symlink inside RunDir (see SetController). Other targets are
// returned unchanged.
func (h *Hypervisor) permittedTarget(target string) (string, error) {
	path, ok := strings.CutPrefix(target, "unix:")
	if !ok || filepath.Dir(filepath.Clean(path)) == filepath.Clean(h.RunDir) {
		return target, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	h.ctlLinks++
	link := filepath.Join(h.RunDir, fmt.Sprintf("ctl%d.sock", h.ctlLinks))
	h.mu.Unlock()
	if err := os.Symlink(abs, link); err != nil {
		return "", err
	}
	return "unix:" + link, nil
}

// DelController removes all controllers from the bridge.
func (b *Bridge) DelController() {
	t := b.H.lab.t
	t.Helper()
	if _, err := b.H.Vsctl("del-controller", b.Name); err != nil {
		t.Fatalf("harness: bridge %s: del controller: %v", b.Name, err)
	}
}

// SetFailMode sets fail_mode: "secure" (forward nothing without a
// controller) or "standalone" (act as a learning switch without one).
func (b *Bridge) SetFailMode(mode string) {
	t := b.H.lab.t
	t.Helper()
	if _, err := b.H.Vsctl("set-fail-mode", b.Name, mode); err != nil {
		t.Fatalf("harness: bridge %s: set fail mode: %v", b.Name, err)
	}
}

// Ofctl runs `ovs-ofctl -O OpenFlow13 args[0] <bridge> args[1:]...`, talking
// to the bridge directly, e.g. Ofctl("dump-flows", "table=0").
func (b *Bridge) Ofctl(args ...string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("Ofctl: no command")
	}
	full := append([]string{"-O", "OpenFlow13", args[0], b.mgmt()}, args[1:]...)
	return run(cmdTimeout, b.H.env(), "ovs-ofctl", full...)
}

// DumpFlows returns the bridge's flows, one trimmed line each, without the
// reply header line.
func (b *Bridge) DumpFlows() ([]string, error) {
	out, err := b.Ofctl("dump-flows")
	if err != nil {
		return nil, err
	}
	var flows []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "OFPST_") {
			continue
		}
		flows = append(flows, line)
	}
	return flows, nil
}

// IsConnected reports whether any controller of the bridge is connected,
// according to the Controller table. ovs-vswitchd refreshes that status only
// every 5s (stats-update-interval, which cannot go lower), so it lags the
// real connection state by up to 5s in both directions.
func (b *Bridge) IsConnected() bool {
	ok, _ := b.connected()
	return ok
}

func (b *Bridge) connected() (bool, error) {
	// `get` prints a set of UUIDs as "[uuid1, uuid2]" even with --bare.
	out, err := b.H.Vsctl("get", "Bridge", b.Name, "controller")
	if err != nil {
		return false, err
	}
	uuids := strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ").Replace(out))
	if len(uuids) == 0 {
		return false, fmt.Errorf("bridge %s has no controller", b.Name)
	}
	for _, id := range uuids {
		c, err := b.H.Vsctl("get", "Controller", id, "is_connected")
		if err != nil {
			return false, err
		}
		if c == "true" {
			return true, nil
		}
	}
	return false, fmt.Errorf("bridge %s: controller not connected", b.Name)
}

// WaitConnected waits until a controller of the bridge is connected. Allow
// for the status lag described at IsConnected: use timeouts of 10s or more.
func (b *Bridge) WaitConnected(timeout time.Duration) error {
	return waitFor(timeout, 100*time.Millisecond, func() error {
		_, err := b.connected()
		return err
	})
}
