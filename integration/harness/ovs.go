package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Hypervisor is one Open vSwitch instance (ovsdb-server + ovs-vswitchd with
// the userspace datapath) in its own network namespace.
type Hypervisor struct {
	Name   string
	NS     string // network namespace of ovs-vswitchd, its taps and VM ports
	RunDir string // private OVS_RUNDIR: db, sockets, pidfiles, logs

	// Set by AddUplink: the tunnel endpoint address (without prefix
	// length, e.g. "192.168.50.11") and the standalone bridge holding it.
	TunnelIP     string
	UplinkBridge *Bridge

	lab *Lab

	mu       sync.Mutex
	vswitchd *Process
	bridges  []*Bridge
	syncSeq  int
	ctlLinks int      // symlinks to controller sockets made in RunDir
	ovsdb    *Process // the running ovsdb-server
}

// Hypervisor creates a namespace and starts a private OVS in it. It returns
// once ovs-vswitchd is connected to its database and has applied it.
func (l *Lab) Hypervisor(name string) *Hypervisor {
	l.t.Helper()
	l.checkName("hypervisor", name)
	h := &Hypervisor{Name: name, lab: l}
	h.NS = l.newNetns(name)
	h.RunDir = filepath.Join(l.dir, name)
	if err := os.Mkdir(h.RunDir, 0o700); err != nil {
		l.t.Fatalf("harness: %v", err)
	}
	l.mu.Lock()
	l.hypervisors = append(l.hypervisors, h)
	l.mu.Unlock()

	db := filepath.Join(h.RunDir, "conf.db")
	if _, err := run(cmdTimeout, h.env(), "ovsdb-tool", "create", db, schemaPath()); err != nil {
		l.t.Fatalf("harness: hypervisor %s: %v", name, err)
	}
	// Not --detach: the lab keeps the child so it can kill exactly it.
	h.startOVSDB()
	h.StartVswitchd()
	return h
}

// startOVSDB runs ovsdb-server on the hypervisor's database and waits
// until it answers.
func (h *Hypervisor) startOVSDB() {
	l := h.lab
	l.t.Helper()
	p := l.start(h.Name+"-ovsdb", h.NS, h.env(), filepath.Join(h.RunDir, "ovsdb-server.out"),
		"ovsdb-server", filepath.Join(h.RunDir, "conf.db"),
		"--remote=punix:"+h.dbSock(),
		"--unixctl="+filepath.Join(h.RunDir, "ovsdb-server.ctl"),
		"--pidfile="+filepath.Join(h.RunDir, "ovsdb-server.pid"), "--overwrite-pidfile",
		"--log-file="+filepath.Join(h.RunDir, "ovsdb-server.log"),
		"--no-chdir", "-vconsole:err")
	h.mu.Lock()
	h.ovsdb = p
	h.mu.Unlock()
	err := waitFor(10*time.Second, 50*time.Millisecond, func() error {
		_, err := h.Vsctl("--no-wait", "init")
		return err
	})
	if err != nil {
		l.t.Fatalf("harness: hypervisor %s: ovsdb-server did not come up: %v", h.Name, err)
	}
}

// RestartOVSDB SIGKILLs ovsdb-server and starts it again on the same
// database, as a crash and a supervisor restart would. ovs-vswitchd and
// every other client reconnect by themselves.
func (h *Hypervisor) RestartOVSDB() {
	h.mu.Lock()
	p := h.ovsdb
	h.mu.Unlock()
	if p != nil {
		p.Kill9()
	}
	os.Remove(h.dbSock())
	h.startOVSDB()
}

// env points every OVS program at the private run directory; without it
// they reach for /var/run/openvswitch and friends.
func (h *Hypervisor) env() []string {
	return []string{
		"OVS_RUNDIR=" + h.RunDir,
		"OVS_DBDIR=" + h.RunDir,
		"OVS_LOGDIR=" + h.RunDir,
		"OVS_SYSCONFDIR=" + h.RunDir,
	}
}

func (h *Hypervisor) dbSock() string { return filepath.Join(h.RunDir, "db.sock") }

func (h *Hypervisor) vswitchdCtl() string { return filepath.Join(h.RunDir, "ovs-vswitchd.ctl") }

// VswitchdLog is the path of the ovs-vswitchd log file.
func (h *Hypervisor) VswitchdLog() string { return filepath.Join(h.RunDir, "ovs-vswitchd.log") }

// Vsctl runs ovs-vsctl against this hypervisor's database and returns its
// trimmed output.
func (h *Hypervisor) Vsctl(args ...string) (string, error) {
	full := append([]string{"--db=unix:" + h.dbSock(), "--timeout=10"}, args...)
	out, err := run(cmdTimeout, h.env(), "ovs-vsctl", full...)
	return strings.TrimSpace(out), err
}

// Appctl runs ovs-appctl against this hypervisor's ovs-vswitchd, e.g.
// Appctl("ofproto/trace", "br0", "in_port=1").
func (h *Hypervisor) Appctl(args ...string) (string, error) {
	full := append([]string{"--timeout=10", "-t", h.vswitchdCtl()}, args...)
	out, err := run(cmdTimeout, h.env(), "ovs-appctl", full...)
	return strings.TrimSpace(out), err
}

// StartVswitchd starts ovs-vswitchd (again, after KillVswitchd) with the same
// settings and waits until it has applied the database and every bridge
// answers OpenFlow on its management socket.
func (h *Hypervisor) StartVswitchd() {
	l := h.lab
	l.t.Helper()
	if p := h.Vswitchd(); p != nil && !p.Exited() {
		l.t.Fatalf("harness: hypervisor %s: ovs-vswitchd already running", h.Name)
	}
	// No lock held here: start may fail the test, and the cleanup that
	// then runs needs h.mu for diagnostics.
	p := l.start(h.Name+"-vswitchd", h.NS, h.env(), filepath.Join(h.RunDir, "ovs-vswitchd.out"),
		"ovs-vswitchd", "unix:"+h.dbSock(),
		"--disable-system", // no kernel module here: userspace datapath only
		"--unixctl="+h.vswitchdCtl(),
		"--pidfile="+filepath.Join(h.RunDir, "ovs-vswitchd.pid"), "--overwrite-pidfile",
		"--log-file="+h.VswitchdLog(),
		"--no-chdir", "-vconsole:err")
	h.mu.Lock()
	h.vswitchd = p
	h.syncSeq++
	seq := h.syncSeq
	bridges := append([]*Bridge(nil), h.bridges...)
	h.mu.Unlock()

	// ovs-vsctl waits for ovs-vswitchd to apply a change only if it changed
	// something, so bump a counter to learn when the daemon is in sync.
	_, err := h.Vsctl("set", "Open_vSwitch", ".", fmt.Sprintf("external_ids:loom-harness-sync=%d", seq))
	if err != nil {
		l.t.Fatalf("harness: hypervisor %s: ovs-vswitchd not ready: %v\n%s", h.Name, err, h.vswitchdState(p))
	}
	for _, b := range bridges {
		if err := waitFor(10*time.Second, 50*time.Millisecond, func() error {
			_, err := b.Ofctl("show")
			return err
		}); err != nil {
			l.t.Fatalf("harness: bridge %s not up after restart: %v\n%s", b.Name, err, h.vswitchdState(p))
		}
	}
}

// vswitchdState explains a vswitchd that failed to come up.
func (h *Hypervisor) vswitchdState(p *Process) string {
	state := "running"
	if p.Exited() {
		state = fmt.Sprintf("exited: %v", p.err)
	}
	return fmt.Sprintf("ovs-vswitchd %s\n%s\n%s", state, tail(p.Log(), 20), tail(readFile(h.VswitchdLog()), 20))
}

// KillVswitchd SIGKILLs ovs-vswitchd to simulate a crash. The database, the
// namespace and the ports stay; StartVswitchd brings the switch back.
func (h *Hypervisor) KillVswitchd() {
	h.mu.Lock()
	p := h.vswitchd
	h.mu.Unlock()
	if p != nil {
		p.Kill9()
	}
}

// Vswitchd is the currently running (or last) ovs-vswitchd process.
func (h *Hypervisor) Vswitchd() *Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.vswitchd
}

// OfPort returns the OpenFlow port number of an interface.
func (h *Hypervisor) OfPort(portName string) (int, error) {
	out, err := h.Vsctl("get", "Interface", portName, "ofport")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(out)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("interface %s has no OpenFlow port yet (ofport %q)", portName, out)
	}
	return n, nil
}
