// Package integration proves Loom against real Open vSwitch: private OVS
// instances in network namespaces (see package harness), VMs as
// namespaces, and the real loomd binary.
package integration

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
)

var loomdBin, rawframeBin, floodguardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loombin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	loomdBin = filepath.Join(dir, "loomd")
	// Tests run loomd under the race detector; benchmarks measure the
	// binary an operator runs.
	args := []string{"build", "-race", "-o", loomdBin, "github.com/loomsdn/loom/cmd/loomd"}
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		args = append(args[:1], args[2:]...)
	}
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building loomd:", err)
		os.Exit(1)
	}
	rawframeBin = filepath.Join(dir, "rawframe")
	floodguardBin = filepath.Join(dir, "floodguard")
	for bin, pkg := range map[string]string{rawframeBin: "./integration/rawframe", floodguardBin: "./examples/floodguard"} {
		cmd := exec.Command("go", "build", "-o", bin, "github.com/loomsdn/loom/"+strings.TrimPrefix(pkg, "./"))
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg+":", err, string(out))
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loomd is one running controller process of a test.
type loomd struct {
	lab  *harness.Lab
	proc *harness.Process
	sock string
	db   string
}

// startLoomd runs loomd in the root namespace, listening on a unix socket
// in the lab directory (no network traffic leaves the machine's loopback).
func startLoomd(t *testing.T, lab *harness.Lab, extra ...string) *loomd {
	return startLoomdB(t, lab, extra...)
}

func startLoomdB(t testing.TB, lab *harness.Lab, extra ...string) *loomd {
	t.Helper()
	l := &loomd{lab: lab, sock: filepath.Join(lab.Dir(), "loom.sock"), db: filepath.Join(lab.Dir(), "loom.db")}
	l.startB(t, extra...)
	return l
}

func (l *loomd) start(t *testing.T, extra ...string) { l.startB(t, extra...) }

func (l *loomd) startB(t testing.TB, extra ...string) {
	t.Helper()
	args := append([]string{loomdBin, "--openflow-listen", "unix:" + l.sock, "--db", l.db, "--log-level", "debug",
		"--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, extra...) // tests run side by side: any free port
	l.proc = l.lab.Start("loomd", "", nil, args...)
	waitForB(t, "loomd listening", 10*time.Second, func() bool {
		return strings.Contains(l.proc.Log(), "accepting OpenFlow connections")
	})
}

// lines returns loomd's log lines at warn level and above.
func (l *loomd) problems() []string {
	var out []string
	for _, line := range strings.Split(l.proc.Log(), "\n") {
		if strings.Contains(line, "level=warning") || strings.Contains(line, "level=error") ||
			strings.Contains(line, "level=fatal") || strings.Contains(line, "panic") {
			out = append(out, line)
		}
	}
	return out
}

// goroutines asks loomd (SIGUSR1) for its goroutine count.
func (l *loomd) goroutines(t *testing.T) int {
	t.Helper()
	before := strings.Count(l.proc.Log(), "runtime state")
	if err := syscall.Kill(l.proc.PID(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var n int
	waitFor(t, "runtime state line", 5*time.Second, func() bool {
		lines := strings.Split(l.proc.Log(), "\n")
		seen := 0
		for _, line := range lines {
			if strings.Contains(line, "runtime state") {
				seen++
				if seen > before {
					fmt.Sscanf(line[strings.Index(line, "goroutines=")+len("goroutines="):], "%d", &n)
					return true
				}
			}
		}
		return false
	})
	return n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	waitForB(t, what, timeout, cond)
}

func waitForB(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onlyLoomFlows fails unless every flow on br carries Loom's cookie marker.
func onlyLoomFlows(t *testing.T, br *harness.Bridge) []string {
	t.Helper()
	flows, err := br.DumpFlows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) == 0 {
		t.Fatal("the bridge holds no flows")
	}
	for _, f := range flows {
		if !strings.Contains(f, "cookie=0x4c4d") {
			t.Fatalf("a flow without Loom's cookie marker: %s\nall flows:\n%s", f, strings.Join(flows, "\n"))
		}
	}
	return flows
}

// oneBridgeTwoVMs is the smallest site: one hypervisor, its VM bridge in
// fail_mode=secure, and two VMs.
func oneBridgeTwoVMs(t *testing.T) (*harness.Lab, *harness.Hypervisor, *harness.Bridge, *harness.VM, *harness.VM) {
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	br := hv.AddBridge("vswitch02", 0xc1)
	vm1 := hv.AddVM("centos01", br, "172.16.123.101/24")
	vm2 := hv.AddVM("centos02", br, "172.16.123.102/24")
	return lab, hv, br, vm1, vm2
}

// attachLoom starts loomd with extra flags and makes it br's controller.
func attachLoom(t *testing.T, lab *harness.Lab, br *harness.Bridge, extra ...string) *loomd {
	t.Helper()
	l := startLoomd(t, lab, extra...)
	br.SetController("unix:" + l.sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	return l
}

// connectLoom starts loomd, makes it br's controller, and proves the
// first path through it: from and to must ping.
func connectLoom(t *testing.T, lab *harness.Lab, br *harness.Bridge, from, to *harness.VM) *loomd {
	t.Helper()
	l := attachLoom(t, lab, br)
	if err := from.Ping(to.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping through Loom: %v", err)
	}
	return l
}
