package soak

// The soak and chaos suite. One scenario, two sizes:
//
//	TestSoakSlice  about 2 minutes, part of `make test` (the integration
//	               target, under -race: loomd is then built with -race too)
//	TestSoak       `make soak`: SOAK_DURATION of chaos (default 3m) at full
//	               size (2,000 switches, 3,000 watchers); runs only when
//	               SOAK_DURATION is set
//
// Both drive the real loomd binary (built into a temp dir) against real
// OVS in network namespaces (package harness) and, at the same time:
// two VMs pinging each other every 10 ms through Loom's flows; loombench
// connect storms with churn (same DPIDs connecting, dropping and
// reconnecting); thousands of gRPC watchers, some of which never read;
// 50,000 frames/s with random source MACs from a VM into OVS and 50,000
// packet-ins/s with random sources from loombench; reload storms (SIGHUP,
// `loomctl reload`, the API, valid and invalid files); kill -9 and SIGTERM
// of loomd at random moments, with the bbolt file checked before every
// restart; ovsdb-server of the flooding VM's hypervisor killed by PID and
// restarted; a fake OVSDB server (fakeovsdb.go) answering with malformed
// schemas and updates, configured as an extra hypervisor; and more
// HELLO-only connections than loomd has file descriptors (RLIMIT_NOFILE
// set with prlimit). After the load it checks every switch's flows against
// the API with `ovs-ofctl diff-flows`, the pings, loomd's goroutines and
// memory against a baseline, that watchers still get events, that the
// switches get their flows in one more storm, and a SIGTERM with streams
// open. The only waits that can fail the run are bounded "it never
// happened" waits; go test -timeout bounds the whole. See
// scenario_test.go.
//
// Environment:
//
//	SOAK_DURATION  chaos time of TestSoak (a Go duration, e.g. 3m, 30m)
//	SOAK_SEED      random seed (default: time); printed, to replay a run
//	SOAK_RACE      1/0: build loomd with or without -race (default: as the
//	               test binary was built)
//	SOAK_REPORT    also write the summary to this file
//	LOOM_LAB_KEEP  keep the lab directory (logs, heap profiles) of a failed run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
)

// bins are the programs a run needs, built once per test binary.
type bins struct {
	loomd, loomctl, loombench, helper string
	race                              bool
}

var (
	buildOnce sync.Once
	built     bins
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// goTool is the go command that runs this test: go test puts its own
// GOROOT/bin first on the test binary's PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go" // run by hand without go on PATH: exec reports it
}

// loomdRace says whether loomd is built with the race detector: as the
// test binary was, unless SOAK_RACE says otherwise.
func loomdRace() bool {
	switch os.Getenv("SOAK_RACE") {
	case "1", "true":
		return true
	case "0", "false":
		return false
	}
	return raceEnabled
}

func build(t *testing.T) bins {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "loomsoak")
		if buildErr != nil {
			return
		}
		built = bins{loomd: filepath.Join(binDir, "loomd"), loomctl: filepath.Join(binDir, "loomctl"),
			loombench: filepath.Join(binDir, "loombench"), helper: filepath.Join(binDir, "soakhelper"), race: loomdRace()}
		for _, b := range []struct {
			out, pkg string
			race     bool
		}{
			{built.loomd, "./cmd/loomd", built.race},
			{built.loomctl, "./cmd/loomctl", false},
			{built.loombench, "./cmd/loombench", false},
			{built.helper, "./integration/soak/soakhelper", false},
		} {
			args := []string{"build", "-o", b.out}
			if b.race {
				args = append(args, "-race")
			}
			args = append(args, "github.com/loomsdn/loom/"+b.pkg[2:])
			cmd := exec.Command(goTool(), args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go %v: %v\n%s", args, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the soak binaries: %v", buildErr)
	}
	return built
}

// require checks what the suite needs beyond the lab (harness.New checks
// that): a missing tool skips the test, or fails it when CI=true.
func require(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"prlimit"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("soak: %s not on PATH (util-linux)", tool)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	harness.Require(t)
}

func seed(t *testing.T) uint64 {
	if s := os.Getenv("SOAK_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// slicePlan is the short run inside `make test`: every kind of chaos at
// least once, with smaller numbers, in about 90 seconds.
func slicePlan() plan {
	return plan{
		name:        "slice",
		chaos:       28 * time.Second,
		settle:      6 * time.Second,
		switches:    300,
		hold:        2 * time.Second,
		readers:     150,
		silent:      50,
		pktReaders:  10,
		pktSilent:   10,
		floodRate:   50000,
		nofile:      1024,
		helloConns:  1400,
		helloFor:    5 * time.Second,
		kills:       2,
		graceful:    1,
		flaps:       2,
		fdFloods:    1,
		reloadEvery: time.Second,
		graceBound:  20 * time.Second,
		maxMACs:     1024,
		probeWait:   20 * time.Second,
		finalHold:   3 * time.Second,
	}
}

// soakPlan is `make soak`: full size for the given chaos time.
func soakPlan(d time.Duration) plan {
	per := func(every time.Duration) int { return max(1, int(d/every)) }
	return plan{
		name:        "soak",
		chaos:       d,
		settle:      30 * time.Second,
		switches:    2000,
		hold:        3 * time.Second,
		readers:     2700,
		silent:      300,
		pktReaders:  50,
		pktSilent:   50,
		floodRate:   50000,
		nofile:      4096,
		helloConns:  4600,
		helloFor:    8 * time.Second,
		kills:       per(35 * time.Second),
		graceful:    per(90 * time.Second),
		flaps:       per(20 * time.Second),
		fdFloods:    per(60 * time.Second),
		reloadEvery: 500 * time.Millisecond,
		graceBound:  45 * time.Second,
		maxMACs:     1024,
		probeWait:   60 * time.Second,
		finalHold:   5 * time.Second,
	}
}

func TestSoakSlice(t *testing.T) {
	require(t)
	runScenario(t, slicePlan(), build(t), seed(t))
}

func TestSoak(t *testing.T) {
	ds := os.Getenv("SOAK_DURATION")
	if ds == "" {
		t.Skip("set SOAK_DURATION (e.g. 3m) to run the full soak; `make soak` does")
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d < 30*time.Second {
		t.Fatalf("SOAK_DURATION=%q: want a Go duration of at least 30s", ds)
	}
	require(t)
	p := soakPlan(d)
	if dl, ok := t.Deadline(); ok && time.Until(dl) < p.bound() {
		t.Fatalf("go test -timeout leaves %v, the soak may need %v: raise -timeout (make soak SOAK_TIMEOUT=...)",
			time.Until(dl).Round(time.Second), p.bound())
	}
	runScenario(t, p, build(t), seed(t))
}
