package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"github.com/loomsdn/loom/integration/harness"
)

// loomdRun is one loomd process.
type loomdRun struct {
	n        int // 1 for the first start
	proc     *harness.Process
	started  time.Time // when the process was started
	ready    time.Time // when it accepted OpenFlow connections
	intended bool      // we killed or stopped it (set before the signal)
	exited   chan struct{}
	exitAt   time.Time
	exitErr  error
}

// downWindow is a stretch when no loomd served: from a kill (or a crash)
// until the next loomd accepted connections.
type downWindow struct {
	from, to time.Time
	why      string
}

// crash is a loomd exit nobody asked for.
type crash struct {
	run     int
	at      time.Time
	err     string
	symptom string // the panic or fatal error, or the log's tail
}

// loomdMgr starts, kills, restarts and watches loomd. start and the
// kill/restart methods run on the test goroutine (the lab may fail the
// test); current, metrics and signals are safe from any goroutine.
type loomdMgr struct {
	s       *scenario
	lab     *harness.Lab
	bin     string
	args    []string
	nofile  int
	metrics string // host:port of /metrics and pprof

	mu      sync.Mutex
	cur     *loomdRun // the running, ready loomd; nil while down
	runs    []*loomdRun
	windows []downWindow
	crashes []crash
	downAt  time.Time // start of the current down window
	downWhy string

	exits chan *loomdRun // every exit, intended or not
}

var reListening = regexp.MustCompile(`accepting OpenFlow connections`)

// start runs a new loomd and waits until it accepts OpenFlow connections.
// It returns nil (and records why) when loomd does not come up.
func (m *loomdMgr) start() (*loomdRun, error) {
	m.mu.Lock()
	n := len(m.runs) + 1
	m.mu.Unlock()
	args := append([]string{fmt.Sprintf("--nofile=%d:%d", m.nofile, m.nofile), m.bin}, m.args...)
	r := &loomdRun{n: n, started: time.Now(), exited: make(chan struct{})}
	r.proc = m.lab.Start("loomd", "", nil, append([]string{"prlimit"}, args...)...)
	go func() {
		r.exitErr = r.proc.Wait(1000 * time.Hour)
		r.exitAt = time.Now()
		close(r.exited)
		m.exits <- r
	}()
	m.mu.Lock()
	m.runs = append(m.runs, r)
	m.mu.Unlock()
	deadline := time.Now().Add(90 * time.Second)
	for !reListening.MatchString(r.proc.Log()) {
		select {
		case <-r.exited:
			return nil, fmt.Errorf("loomd #%d exited before accepting connections (%v):\n%s", n, r.exitErr, tail(r.proc.Log(), 20))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("loomd #%d not accepting connections after 90s:\n%s", n, tail(r.proc.Log(), 20))
		}
	}
	r.ready = time.Now()
	m.mu.Lock()
	m.cur = r
	if !m.downAt.IsZero() {
		m.windows = append(m.windows, downWindow{from: m.downAt, to: r.ready, why: m.downWhy})
		m.downAt = time.Time{}
	}
	m.mu.Unlock()
	return r, nil
}

// current is the ready loomd, or nil while it is down.
func (m *loomdMgr) current() *loomdRun {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// markDown records that loomd r stops serving now, for why.
func (m *loomdMgr) markDown(r *loomdRun, why string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == r {
		m.cur = nil
	}
	if m.downAt.IsZero() {
		m.downAt, m.downWhy = at, why
	}
}

// kill9 SIGKILLs the running loomd.
func (m *loomdMgr) kill9(r *loomdRun) {
	m.mu.Lock()
	r.intended = true
	m.mu.Unlock()
	m.markDown(r, fmt.Sprintf("kill -9 of #%d", r.n), time.Now())
	r.proc.Kill9()
	<-r.exited
}

// stop sends SIGTERM and waits up to grace. A loomd that does not stop in
// time is asked for its goroutines (SIGQUIT, which also ends it) and then
// killed. problem is empty for a clean stop; otherwise it says what went
// wrong, with the goroutines of the dump (ours, or the one loomd writes
// itself when its shutdown overruns) condensed.
func (m *loomdMgr) stop(r *loomdRun, grace time.Duration, why string) (took time.Duration, problem string, exitErr error) {
	m.mu.Lock()
	r.intended = true
	m.mu.Unlock()
	start := time.Now()
	m.markDown(r, why, start)
	before := len(r.proc.Log())
	r.proc.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		took = time.Since(start)
		if r.exitErr == nil || exitCode(r.exitErr) == 66 { // 66: clean, but the race detector found races
			return took, "", r.exitErr
		}
		log := r.proc.Log()[before:]
		msg := "exited with " + r.exitErr.Error()
		if l := lastLine(log, "level=error"); l != "" {
			msg += ": " + l
		}
		if i, j := strings.Index(log, `msg="loomd stopped"`), strings.Index(log, "shutdown did not finish"); i >= 0 && j > i {
			msg += " (after run had returned: \"loomd stopped\" was logged first)"
		}
		return took, msg + "\n" + summarizeDump(log), r.exitErr
	case <-time.After(grace):
	}
	r.proc.Signal(syscall.SIGQUIT)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.proc.Kill9()
		<-r.exited
	}
	dump := r.proc.Log()[before:]
	return time.Since(start), fmt.Sprintf("still running %v after SIGTERM; goroutines (SIGQUIT):\n%s", grace, summarizeDump(dump)), r.exitErr
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// noteCrash records an exit nobody asked for.
func (m *loomdMgr) noteCrash(r *loomdRun) crash {
	c := crash{run: r.n, at: r.exitAt, err: fmt.Sprint(r.exitErr), symptom: symptom(r.proc.Log())}
	m.mu.Lock()
	m.crashes = append(m.crashes, c)
	m.mu.Unlock()
	m.markDown(r, fmt.Sprintf("crash of #%d", r.n), r.exitAt)
	return c
}

// symptom is the panic or fatal error in a log, else its last lines.
func symptom(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
			end := i + 14
			if end > len(lines) {
				end = len(lines)
			}
			return strings.Join(lines[i:end], "\n")
		}
	}
	return tail(log, 8)
}

// summarizeDump condenses a SIGQUIT goroutine dump to Loom's own frames:
// identical stacks are counted, the most common first, so the reason a
// shutdown is stuck shows in a few lines.
func summarizeDump(dump string) string {
	type stack struct {
		state, frames string
		n             int
	}
	byKey := map[string]*stack{}
	var order []*stack
	for _, g := range strings.Split(dump, "\n\n") {
		lines := strings.Split(strings.TrimSpace(g), "\n")
		for len(lines) > 0 && !strings.HasPrefix(lines[0], "goroutine ") {
			lines = lines[1:] // log lines before the dump
		}
		if len(lines) == 0 {
			continue
		}
		mainG := strings.HasPrefix(lines[0], "goroutine 1 ")
		state := ""
		if i, j := strings.Index(lines[0], "["), strings.LastIndex(lines[0], "]"); i >= 0 && j > i {
			state = lines[0][i : j+1]
		}
		var frames []string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by") {
				continue
			}
			if strings.Contains(l, "loomsdn/loom") || strings.HasPrefix(l, "main.") || mainG && len(frames) < 2 {
				f := l
				if i := strings.LastIndex(f, "("); i > 0 {
					f = f[:i]
				}
				frames = append(frames, strings.TrimPrefix(f, "github.com/loomsdn/loom/"))
			}
			if len(frames) == 4 {
				break
			}
		}
		if len(frames) == 0 {
			continue
		}
		key := state + strings.Join(frames, " <- ")
		if st := byKey[key]; st != nil {
			st.n++
			continue
		}
		st := &stack{state: state, frames: strings.Join(frames, " <- "), n: 1}
		byKey[key] = st
		order = append(order, st)
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].n > order[j].n })
	var out []string
	for i, st := range order {
		// The ten largest groups, and always loomd's own shutdown path
		// (main.*): a single goroutine there is usually what hung.
		if i < 10 || strings.Contains(st.frames, "main.") {
			out = append(out, fmt.Sprintf("%4d x %s %s", st.n, st.state, st.frames))
		}
	}
	if len(out) == 0 {
		return tail(dump, 30)
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// metricsText fetches /metrics.
func (m *loomdMgr) metricsText(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m.metrics+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// gc makes loomd collect garbage (pprof's heap profile with gc=1), so
// RSS and the heap are compared after a collection rather than at
// whatever point the collector had reached.
func (m *loomdMgr) gc(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m.metrics+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("pprof heap: %s", resp.Status)
	}
	return nil
}

// heapProfile saves loomd's heap profile (after a collection) to path.
func (m *loomdMgr) heapProfile(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m.metrics+"/debug/pprof/heap?gc=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// heapGrowth is what grew between two heap profiles, by `go tool pprof`.
func heapGrowth(bin, base, after string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goTool(), "tool", "pprof", "-top", "-nodecount=12", "-sample_index=inuse_space",
		"-diff_base", base, bin, after).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}

// metricValue reads an unlabelled sample from a /metrics text.
func metricValue(body, name string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// dbCheck opens a dead loomd's bbolt file read-only and runs bbolt's
// consistency check over every page; it reports the buckets and keys it
// holds.
func dbCheck(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return "", fmt.Errorf("open %s (%d bytes): %w", path, fi.Size(), err)
	}
	defer db.Close()
	var summary []string
	err = db.View(func(tx *bbolt.Tx) error {
		var problems []string
		for err := range tx.Check() { // drained whole: the checker runs until it is done
			if len(problems) < 5 {
				problems = append(problems, err.Error())
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("bbolt check: %s", strings.Join(problems, "; "))
		}
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			st := b.Stats()
			summary = append(summary, fmt.Sprintf("%s:%d", name, st.KeyN))
			return nil
		})
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d bytes, buckets %s", fi.Size(), strings.Join(summary, " ")), nil
}
