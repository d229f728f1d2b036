// Package harness builds a throw-away test lab out of real Open vSwitch
// instances and Linux network namespaces, so integration tests can drive the
// Loom controller against real switches and real traffic.
//
// Every OVS instance ("hypervisor") runs in its own network namespace with
// the userspace (netdev) datapath, because that datapath creates tap devices
// in the namespace of ovs-vswitchd and two instances in one namespace would
// collide. Every VM is a further namespace connected to a bridge by a veth
// pair. Nothing is ever configured in the root namespace.
//
// Everything a Lab creates is torn down by Close, which New registers with
// t.Cleanup, so labs clean up after failing and panicking tests too.
package harness

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"sync"
	"testing"
)

// Lab owns the namespaces, processes and files of one test.
type Lab struct {
	t   testing.TB
	id  string // 6 random hex chars, part of every namespace name
	dir string

	mu          sync.Mutex
	teardown    []func() // run in reverse order by Close
	hypervisors []*Hypervisor
	procs       []*Process
	names       map[string]bool // namespace short names in use
	logNames    map[string]bool // process log file names in use
	macSeq      int             // last VM MAC suffix handed out

	closeOnce sync.Once
}

// New creates an empty lab. It skips (or fails, in CI) the test when the
// environment cannot host a lab, and registers Close with t.Cleanup.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)

	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("harness: random lab id: %v", err)
	}
	// Unix socket paths are limited to 107 bytes, so the lab directory must
	// be short: /tmp/loomNNNN rather than t.TempDir().
	base := os.TempDir()
	if len(base) > 32 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "loom")
	if err != nil {
		t.Fatalf("harness: lab dir: %v", err)
	}
	l := &Lab{
		t:        t,
		id:       hex.EncodeToString(b[:]),
		dir:      dir,
		names:    map[string]bool{},
		logNames: map[string]bool{},
	}
	// Registered first, so it runs last: the files are needed for
	// diagnostics while everything else is being torn down.
	l.onClose(func() {
		if l.t.Failed() && os.Getenv("LOOM_LAB_KEEP") != "" {
			l.t.Logf("harness: keeping lab dir %s (LOOM_LAB_KEEP set)", l.dir)
			return
		}
		if err := os.RemoveAll(l.dir); err != nil {
			l.t.Logf("harness: remove %s: %v", l.dir, err)
		}
	})
	t.Cleanup(l.Close)
	t.Logf("harness: lab %s in %s", l.id, l.dir)
	return l
}

// Dir is a short private directory owned by the lab, suitable for unix
// sockets (e.g. filepath.Join(l.Dir(), "loom.sock")). It is removed by Close.
func (l *Lab) Dir() string { return l.dir }

// ID is the random id that prefixes this lab's namespace names.
func (l *Lab) ID() string { return l.id }

// Close tears the lab down in reverse order of construction: processes are
// stopped, namespaces deleted, the directory removed. If the test has failed,
// diagnostics are logged first. Close is idempotent; New registers it with
// t.Cleanup, calling it earlier is allowed.
func (l *Lab) Close() {
	l.closeOnce.Do(func() {
		if l.t.Failed() {
			l.dumpDiagnostics()
		}
		l.mu.Lock()
		fns := l.teardown
		l.teardown = nil
		l.mu.Unlock()
		for i := len(fns) - 1; i >= 0; i-- {
			fns[i]()
		}
	})
}

// onClose registers fn to run during Close, before everything registered
// earlier.
func (l *Lab) onClose(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.teardown = append(l.teardown, fn)
}

// validName keeps lab object names usable in namespace, interface and file
// names: short and without separators. 12 chars leaves room for the "p-"
// prefix of VM port names within the 15-char interface name limit.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,11}$`)

func (l *Lab) checkName(kind, name string) {
	l.t.Helper()
	if !validName.MatchString(name) {
		l.t.Fatalf("harness: %s name %q must match %s", kind, name, validName)
	}
}
