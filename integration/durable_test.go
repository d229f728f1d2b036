package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loomsdn/loom/integration/harness"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// durableDPID is the switch the tests declare flows for. No switch needs
// to connect: the API keeps and stores declarations for any datapath.
const durableDPID = 0xd1

// declaration is one SetFlows call: its key and the flows it declares.
type declaration struct {
	key   string
	flows []string
}

// newDeclaration declares n drop flows under key; seq makes their
// matches unique across the test, so no two owners claim the same flow.
func newDeclaration(key string, n int, seq uint32) declaration {
	d := declaration{key: key}
	for i := 0; i < n; i++ {
		d.flows = append(d.flows, fmt.Sprintf("table=0, priority=2000,in_port=1,dl_src=02:%02x:%02x:%02x:%02x:%02x actions=drop",
			byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq), i))
	}
	return d
}

func (d declaration) set(ctx context.Context, fc pb.FlowServiceClient) error {
	_, err := fc.SetFlows(ctx, &pb.SetFlowsRequest{Client: "durable", Key: d.key, Dpid: durableDPID, Flows: d.flows})
	return err
}

// declared returns what loomd lists for the test's client, key -> flows.
func declared(t *testing.T, l *loomd) map[string][]string {
	t.Helper()
	conn, ctx := l.api(t)
	r, err := pb.NewFlowServiceClient(conn).ListFlows(ctx, &pb.ListFlowsRequest{Dpid: durableDPID, App: "external"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range r.Flows {
		k := strings.TrimPrefix(f.Key, "durable/")
		out[k] = append(out[k], f.Text)
	}
	return out
}

// checkDeclared fails unless every acknowledged declaration is listed
// with exactly its flows.
func checkDeclared(t *testing.T, l *loomd, acked map[string]declaration, when string) {
	t.Helper()
	got := declared(t, l)
	missing := 0
	for k, d := range acked {
		flows := got[k]
		if len(flows) != len(d.flows) {
			missing++
			if missing <= 5 {
				t.Errorf("%s: acknowledged declaration %s has %d flows, want %d", when, k, len(flows), len(d.flows))
			}
			continue
		}
		for _, want := range d.flows {
			if !containsFlow(flows, want) {
				t.Errorf("%s: declaration %s lacks %q", when, k, want)
				break
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%s: %d of %d acknowledged declarations lost", when, missing, len(acked))
	}
}

// containsFlow compares in Loom's canonical text: the listing puts no
// space after "priority=N,"; the declarations do not care.
func containsFlow(flows []string, want string) bool {
	norm := func(s string) string { return strings.ReplaceAll(s, " ", "") }
	for _, f := range flows {
		if norm(f) == norm(want) {
			return true
		}
	}
	return false
}

// kill -9 at random moments while clients declare and withdraw flows:
// every declaration loomd acknowledged is there after the restart, and
// every acknowledged withdrawal stays withdrawn. In-flight calls the kill
// cut short may or may not have landed; acknowledged ones must have.
func TestDurableAcksSurviveKill9(t *testing.T) {
	lab := harness.New(t)
	l := startLoomd(t, lab)
	acked := map[string]declaration{}
	deleted := map[string]bool{}
	const clients, wantAcks, minKills = 4, 100, 6
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills, total := 0, 0
	for round := 0; total < wantAcks || kills < minKills; round++ {
		if round > 40 {
			t.Fatalf("only %d acknowledged calls after %d rounds", total, round)
		}
		// Kill right after the killAt-th ack of this round, whichever
		// client gets it; the others are mid-call.
		killAt := 5 + rng.IntN(30)
		conn, _ := l.api(t)
		fc := pb.NewFlowServiceClient(conn)
		var mu sync.Mutex
		n := 0
		var early error // a call that failed before the kill: a real failure
		killed := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		ack := func() {
			total++
			n++
			if n == killAt {
				once.Do(func() {
					_ = l.proc.Signal(syscall.SIGKILL)
					close(killed)
				})
			}
		}
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fail := func(err error) {
					mu.Lock()
					defer mu.Unlock()
					select {
					case <-killed:
					default:
						early = err
					}
				}
				var prev string
				for i := 0; ; i++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if i%5 == 4 {
						// Withdraw the previous declaration: from here on its
						// outcome is unknown until the ack.
						mu.Lock()
						delete(acked, prev)
						mu.Unlock()
						_, err := fc.DeleteFlows(ctx, &pb.DeleteFlowsRequest{Client: "durable", Key: prev, Dpid: durableDPID})
						cancel()
						if err != nil {
							fail(err)
							return
						}
						mu.Lock()
						deleted[prev] = true
						ack()
						mu.Unlock()
						continue
					}
					d := newDeclaration(fmt.Sprintf("r%d/c%d/%d", round, c, i), 1+i%4, uint32(round)<<24|uint32(c)<<16|uint32(i))
					err := d.set(ctx, fc)
					cancel()
					if err != nil {
						fail(err) // after the kill: cut short, or the process is gone
						return
					}
					mu.Lock()
					acked[d.key] = d
					prev = d.key
					ack()
					mu.Unlock()
				}
			}()
		}
		select {
		case <-killed:
		case <-time.After(30 * time.Second):
			mu.Lock()
			t.Fatalf("round %d: %d acks in 30s, never reached %d (%v)", round, n, killAt, early)
		}
		l.proc.Kill9() // reaps it
		wg.Wait()
		if early != nil {
			t.Fatalf("round %d: a call failed before the kill: %v", round, early)
		}
		kills++
		l.start(t)
		when := fmt.Sprintf("after kill %d", kills)
		checkDeclared(t, l, acked, when)
		got := declared(t, l)
		for k := range deleted {
			if _, ok := got[k]; ok {
				t.Fatalf("%s: acknowledged withdrawal of %s undone", when, k)
			}
		}
	}
	t.Logf("%d acknowledged calls (%d declarations standing, %d withdrawn), all held after %d kills", total, len(acked), len(deleted), kills)
}

// A 2 MiB tmpfs holds the database and is filled mid-run: loomd answers
// errors, not acks, changes nothing it refused, and once space returns
// takes writes again; after a restart everything acknowledged is there
// and nothing refused is.
func TestDurableFullDiskRefusesAndLosesNothing(t *testing.T) {
	dir := mountTmpfs(t, "2m") // before the lab: unmounted after loomd is stopped
	lab := harness.New(t)
	l := &loomd{lab: lab, sock: filepath.Join(lab.Dir(), "loom.sock"), db: filepath.Join(dir, "loom.db")}
	l.start(t)
	conn, _ := l.api(t)
	fc := pb.NewFlowServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	acked := map[string]declaration{}
	for i := 0; i < 20; i++ {
		d := newDeclaration(fmt.Sprintf("before/%d", i), 16, 0x01000000|uint32(i))
		if err := d.set(ctx, fc); err != nil {
			t.Fatalf("SetFlows with room on the disk: %v", err)
		}
		acked[d.key] = d
	}

	filler := fill(t, dir)
	var refused []declaration
	for i := 0; len(refused) < 10; i++ {
		if i == 2000 {
			t.Fatalf("the disk is full and %d declarations were all acknowledged", i)
		}
		d := newDeclaration(fmt.Sprintf("full/%d", i), 16, 0x02000000|uint32(i))
		err := d.set(ctx, fc)
		if err == nil {
			acked[d.key] = d // bbolt reused free pages: it is written, so the ack is honest
			continue
		}
		st, _ := status.FromError(err)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "no space left on device") ||
			!strings.Contains(st.Message(), "external/durable/"+d.key) {
			t.Fatalf("SetFlows on a full disk: %v, want Unavailable naming the declaration and the disk full", err)
		}
		refused = append(refused, d)
	}
	t.Logf("disk full: %d refused, %d acknowledged in all", len(refused), len(acked))
	got := declared(t, l)
	for _, d := range refused {
		if _, ok := got[d.key]; ok {
			t.Fatalf("refused declaration %s is applied", d.key)
		}
	}
	checkDeclared(t, l, acked, "while the disk is full")
	if v := scrape(t, l, "loom_persist_errors_total"); v < float64(len(refused)) {
		t.Errorf("loom_persist_errors_total = %v after %d refused commits", v, len(refused))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	// Space is back: the same calls succeed, and new ones.
	for _, d := range refused[:len(refused)/2] {
		if err := d.set(ctx, fc); err != nil {
			t.Fatalf("SetFlows %s once space returned: %v", d.key, err)
		}
		acked[d.key] = d
	}
	for i := 0; i < 20; i++ {
		d := newDeclaration(fmt.Sprintf("after/%d", i), 16, 0x03000000|uint32(i))
		if err := d.set(ctx, fc); err != nil {
			t.Fatalf("SetFlows once space returned: %v", err)
		}
		acked[d.key] = d
	}

	// One warning for the outage and one line for its end, not a line per
	// refused call.
	log := l.proc.Log()
	if n := strings.Count(log, "the store refused API writes;"); n != 1 || !strings.Contains(log, "the store takes API writes again") {
		t.Errorf("the outage was logged as %d warnings, recovery logged: %v", n, strings.Contains(log, "the store takes API writes again"))
	}

	l.proc.Kill9()
	l.start(t)
	checkDeclared(t, l, acked, "after the restart")
	got = declared(t, l)
	for _, d := range refused[len(refused)/2:] {
		if _, ok := got[d.key]; ok {
			t.Fatalf("refused (never retried) declaration %s came back after the restart", d.key)
		}
	}
}

// requireTool fails in CI, and skips elsewhere, when a program is missing
// (the lab's own rule, harness.Require).
func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not on PATH", name)
		}
		t.Skipf("%s not on PATH", name)
	}
}

// mountTmpfs mounts a tmpfs of size on a fresh temporary directory and
// unmounts and removes it when the test ends, failed or not.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	harness.Require(t) // root, and the CI rule
	requireTool(t, "mount")
	requireTool(t, "umount")
	dir, err := os.MkdirTemp("", "loomtmpfs")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		// No right to mount (a container without CAP_SYS_ADMIN) is a
		// missing dependency like the others: fatal in CI.
		msg := fmt.Sprintf("mount tmpfs: %v %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s; detaching it", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
		os.Remove(dir)
	})
	return dir
}

// fill writes a file into dir until the file system is full and returns
// its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return p
		}
	}
}

// scrape reads one metric from loomd's /metrics.
func scrape(t *testing.T, l *loomd, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + logAddr(t, l.proc.Log(), reMetricsAddr) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return metric(t, string(body), name)
}
