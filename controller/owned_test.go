package controller

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// The long-lived goroutines a controller starts, by the function each
// runs: every one must belong to a group (internal/group), which labels
// its goroutines, and be gone when Close returns.
var ownedLoops = []string{
	"controller.(*Controller).refreshOnTopology",
	"controller.(*disconnects).run",
	"controller.(*Controller).ageSwitches",
	"controller.(*persister).run",
	"controller.(*hypervisors).follow",
	"ovsdb.(*Client).Run",
}

// goroutineRecord is one entry of a goroutine profile (debug=1): the
// goroutines sharing a stack and labels.
type goroutineRecord struct {
	labels string // the "# labels:" line, "" if none
	stack  string
}

func goroutineRecords(t *testing.T) []goroutineRecord {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	var out []goroutineRecord
	for _, rec := range strings.Split(buf.String(), "\n\n") {
		var r goroutineRecord
		for _, line := range strings.Split(rec, "\n") {
			if l, ok := strings.CutPrefix(line, "# labels: "); ok {
				r.labels = l
			} else {
				r.stack += line + "\n"
			}
		}
		out = append(out, r)
	}
	return out
}

// running returns, for each of fns, the records whose stacks run it.
func running(t *testing.T, fns []string) map[string][]goroutineRecord {
	t.Helper()
	out := map[string][]goroutineRecord{}
	for _, r := range goroutineRecords(t) {
		for _, fn := range fns {
			if strings.Contains(r.stack, "github.com/loomsdn/loom/"+fn+"+") {
				out[fn] = append(out[fn], r)
			}
		}
	}
	return out
}

// Close returns only once every goroutine the controller started (its
// loops, the persister, each OVSDB client and its follower) has ended,
// and each of them was started in a group, never with a plain go: a
// goroutine without the group's label fails the test whether or not it
// happens to have ended in time.
func TestCloseWaitsForOwnedGoroutines(t *testing.T) {
	for round := 0; round < 3; round++ {
		for _, withStore := range []bool{true, false} {
			closeWaits(t, withStore)
		}
	}
}

func closeWaits(t *testing.T, withStore bool) {
	t.Helper()
	log, _ := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	cfg := Config{Log: log, Topology: topology.New(), ForgetAfter: time.Hour,
		OpenFlow: openflow.Config{EchoInterval: 200 * time.Millisecond, HelloTimeout: 300 * time.Millisecond}}
	var db *store.Bolt
	if withStore {
		var err error
		if db, err = store.Open(filepath.Join(t.TempDir(), "loom.db")); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		cfg.Store = db
	}
	c, err := New(cfg, refreshCounter{turns: map[uint64]*atomic.Int32{}})
	if err != nil {
		t.Fatal(err)
	}
	// An OVSDB nobody serves: the client retries, its follower waits.
	c.RunHypervisors(context.Background(), []topology.Hypervisor{
		{Name: "hv1", OVSDB: "unix:" + filepath.Join(t.TempDir(), "nobody.sock")}})
	sock := filepath.Join(t.TempDir(), "of.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, l) }()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fakeswitch.Start(nc, 0x1, port(1, "p1"))

	want := ownedLoops
	if !withStore {
		want = slicesWithout(ownedLoops, "controller.(*persister).run")
	}
	deadline := time.Now().Add(5 * time.Second)
	var seen map[string][]goroutineRecord
	for {
		seen = running(t, want)
		if len(seen) == len(want) && len(c.Switches()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all running: %v of %v, switches %v", keys(seen), want, c.Switches())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for fn, recs := range seen {
		for _, r := range recs {
			if !strings.Contains(r.labels, `"goroutine":`) {
				t.Errorf("%s runs on a goroutine no group owns (started with a plain go?):\n%s", fn, r.stack)
			}
		}
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v", took)
	}
	// No poll: Close has waited, so they are gone now.
	for fn, recs := range running(t, want) {
		t.Errorf("%s still running after Close:\n%s", fn, recs[0].stack)
	}
	c.Close() // idempotent
}

func slicesWithout(s []string, drop string) []string {
	var out []string
	for _, x := range s {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

func keys(m map[string][]goroutineRecord) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Every go statement in the package's code either starts a goroutine a
// caller in the same function waits for (a connection's, listed here
// with who waits), or is in a group: a new plain go for a long-lived loop
// fails here.
func TestNoUnownedGoStatements(t *testing.T) {
	awaited := map[string]string{
		"Serve":      "a connection's session: Serve waits for them all (conns)",
		"runSession": "the connection's reader: the session waits for it (served)",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if g, ok := n.(*ast.GoStmt); ok {
					if why := awaited[fd.Name.Name]; why == "" {
						t.Errorf("%s: go statement in %s: start it in a group (internal/group), or list who waits for it here",
							fset.Position(g.Pos()), fd.Name.Name)
					}
				}
				return true
			})
		}
	}
}
