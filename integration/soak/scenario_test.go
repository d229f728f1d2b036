package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/procstat"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// plan is the size of a run.
type plan struct {
	name        string
	chaos       time.Duration // the chaos phase: every load and fault at once
	settle      time.Duration // after the load stops, before "after" is measured
	switches    int           // loombench switches per storm
	hold        time.Duration // how long a storm round stays connected
	readers     int           // topology watchers that read
	silent      int           // topology watchers that never read
	pktReaders  int           // packet-in watchers that read
	pktSilent   int           // packet-in watchers that never read
	floodRate   int           // frames/s with random source MACs from a VM
	nofile      int           // loomd's RLIMIT_NOFILE
	helloConns  int           // HELLO-only connections of an fd flood (> nofile)
	helloFor    time.Duration // how long an fd flood holds them
	kills       int           // kill -9 of loomd
	graceful    int           // SIGTERM restarts with streams open
	flaps       int           // ovsdb-server kill and restart
	fdFloods    int
	reloadEvery time.Duration
	graceBound  time.Duration // a SIGTERM not done by then is a shutdown hang
	maxMACs     int           // apps.l2.max_macs: bounds the flooded switch's table
	probeWait   time.Duration // how long watchers may take to see the probe change
	finalHold   time.Duration // how long the final storm's switches stay connected
}

// bound is the longest a run may take (the only timing the suite
// asserts, through go test -timeout).
func (p plan) bound() time.Duration {
	return 4*time.Minute + p.chaos + time.Duration(p.graceful+p.kills)*(p.graceBound+30*time.Second) + 3*p.settle
}

// Slack on the resource checks: 10% over the baseline plus this much.
const (
	goroutineSlack = 10
	rssSlackKB     = 16 << 10
)

// sample is one reading of loomd's resources.
type sample struct {
	run        int
	goroutines int
	rssKB      int
	heapKB     int     // Go heap in use
	goKB       int     // memory the Go runtime holds from the OS (sys - released)
	cpu        float64 // CPU seconds loomd has used so far
	desired    int     // flows loomd's apps declare, all switches
	byApp      string  // the same per app
	err        error
}

func (s sample) String() string {
	if s.err != nil {
		return s.err.Error()
	}
	return fmt.Sprintf("goroutines=%d rss=%.1fMiB go-held=%.1fMiB heap=%.1fMiB desired-flows=%d (%s) (loomd #%d)", s.goroutines,
		mib(s.rssKB), mib(s.goKB), mib(s.heapKB), s.desired, s.byApp, s.run)
}

func mib(kb int) float64 { return float64(kb) / 1024 }

type reloadStats struct {
	ok, rejected, unreachable, timeouts, wrong, emfile int
	emfileSample                                       string
	byMethod                                           map[string]int
	wrongSamples                                       []string
}

type scenario struct {
	t    *testing.T
	p    plan
	b    bins
	seed uint64
	rng  *rand.Rand // test goroutine only

	lab      *harness.Lab
	hv1, hv2 *harness.Hypervisor
	br1, br2 *harness.Bridge
	vm1, vm2 *harness.VM
	vmF      *harness.VM
	sock     string
	db       string
	cfgPath  string
	grpcAddr string
	fake     *FakeOVSDB
	m        *loomdMgr
	api      *grpc.ClientConn
	pool     *watcherPool
	pinger   *harness.Process
	flood    *harness.Process
	pktin    *harness.Process
	churn    *harness.Process
	hellos   []*harness.Process
	start    time.Time // chaos start
	began    time.Time // the run's start

	cfgMu      sync.Mutex
	cfgVariant int // the valid variant on disk (or last written)

	mu          sync.Mutex
	flapWindows []downWindow
	fdWindows   []downWindow
	reloads     reloadStats
	peak        sample
	pktRate     []float64 // packet-ins/s loomd counted, per sample
	dbChecks    []string
	dbFailures  []string
	startFails  []string
	hangs       []string
	stops       []string
	reconnects  []string
	poolSummary string
	rewritten   []string // ping bridge flows (re)installed during the run
	stopSampler func()   // the sampler runs from the chaos to the final checks
	restCPU     string   // what loomd burnt while it should have been idle
	fakeSummary string   // the fake OVSDB's counts, taken when it stops
	staleACL    string   // switches declaring ACL rules a reload removed
	restoreErr  error    // the reload back to the baseline config failed

	// packet-ins loomd dropped: earlier processes' last counts, the
	// current one's, their sum
	pktDroppedDone, pktDroppedRun, pktDropped float64
}

// note logs an event, with the time since the chaos began.
func (s *scenario) note(format string, args ...any) {
	at := ""
	if !s.start.IsZero() {
		at = fmt.Sprintf("t%+.1fs ", time.Since(s.start).Seconds())
	}
	s.t.Log(at + fmt.Sprintf(format, args...))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func runScenario(t *testing.T, p plan, b bins, seed uint64) {
	s := &scenario{t: t, p: p, b: b, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), began: time.Now()}
	t.Logf("soak %s: seed %d (SOAK_SEED=%d replays the schedule), loomd race=%v, chaos %v, bound %v", p.name, seed, seed, b.race, p.chaos, p.bound())
	s.setup()
	s.warmup()
	base := s.baseline()
	s.chaos()
	s.stopLoad()
	stalled := s.probeWatchers()
	s.pool.close()
	s.poolSummary = s.pool.summary()
	s.mu.Lock()
	s.pool = nil
	s.mu.Unlock()
	final := s.finalStorm()
	after := s.settleAndMeasure(base)
	flows := s.finalFlows()
	s.stopSampler()
	pings := s.stopPinger()
	shutdown := s.shutdownWithStreams()
	s.report(base, after, stalled, final, flows, pings, shutdown)
}

// setup builds the lab: hv1 with the pinging VMs, hv2 with the flooding
// VM, the fake OVSDB, loomd, and the pinger.
func (s *scenario) setup() {
	t := s.t
	s.lab = harness.New(t)
	s.hv1 = s.lab.Hypervisor("hv1")
	s.br1 = s.hv1.AddBridge("vswitch02", 0xc1)
	s.vm1 = s.hv1.AddVM("centos01", s.br1, "172.16.123.101/24")
	s.vm2 = s.hv1.AddVM("centos02", s.br1, "172.16.123.102/24")
	s.hv2 = s.lab.Hypervisor("hv2")
	s.br2 = s.hv2.AddBridge("vswitch03", 0xc2)
	s.vmF = s.hv2.AddVM("flood01", s.br2, "172.16.124.10/24")

	var err error
	s.fake, err = StartFakeOVSDB(filepath.Join(s.lab.Dir(), "fake-ovsdb.sock"), "/usr/share/openvswitch/vswitch.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.fake.Close)

	s.sock = filepath.Join(s.lab.Dir(), "loom.sock")
	s.db = filepath.Join(s.lab.Dir(), "loom.db")
	s.cfgPath = filepath.Join(s.lab.Dir(), "loom.yaml")
	s.writeConfig(0)
	s.grpcAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.m = &loomdMgr{s: s, lab: s.lab, bin: s.b.loomd, nofile: s.p.nofile, metrics: metrics, exits: make(chan *loomdRun, 64),
		args: []string{"--openflow-listen", "unix:" + s.sock, "--db", s.db, "--config", s.cfgPath, "--log-level", "info",
			"--grpc-listen", s.grpcAddr, "--metrics-listen", metrics, "--pprof"}}
	if _, err := s.m.start(); err != nil {
		t.Fatal(err)
	}
	s.api, err = dialAPI(s.grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.api.Close() })

	for _, br := range []*harness.Bridge{s.br1, s.br2} {
		br.SetController("unix:" + s.sock)
	}
	for _, br := range []*harness.Bridge{s.br1, s.br2} {
		if err := br.WaitConnected(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.vm1.Ping(s.vm2.IP, 3, 20*time.Second); err != nil {
		t.Fatalf("no path through Loom before the soak: %v", err)
	}
	s.pinger = s.lab.Start("pinger", s.vm1.NS, nil, s.b.helper, "ping", "-dst", s.vm2.IP, "-interval", "10ms", "-timeout", "3s")
	s.note("lab up: %s pinging %s every 10ms through loomd; flood VM %s on %s; fake OVSDB as hypervisor ghost; loomd RLIMIT_NOFILE=%d",
		s.vm1.Name, s.vm2.Name, s.vmF.Name, s.br2.Name, s.p.nofile)
}

// The config file's variants: 0-2 are valid and differ in networks and
// ACLs (none of them touches ICMP between the pinging VMs); negative ones
// are invalid in different ways.
func (s *scenario) configText(variant int) string {
	base := fmt.Sprintf(`openflow:
  echo_interval: 5s
  hello_timeout: 5s
flows:
  verify_interval: 10s
hypervisors:
  - {name: hv1, ovsdb: "unix:%s"}
  - {name: hv2, ovsdb: "unix:%s"}
  - {name: ghost, ovsdb: "unix:%s"}
apps:
  l2:
    max_macs: %d
tunnels:
  type: none
`, filepath.Join(s.hv1.RunDir, "db.sock"), filepath.Join(s.hv2.RunDir, "db.sock"), filepath.Join(s.lab.Dir(), "fake-ovsdb.sock"), s.p.maxMACs)
	blue := "  - {name: blue, vlan: 10, ports: [\"p-centos0*\"]}\n"
	switch variant {
	case 0:
		return base + "networks:\n" + blue
	case 1:
		return base + "networks:\n" + blue + "  - {name: red, vlan: 20, ports: [\"p-nomatch*\"]}\n" +
			"acls:\n  - {name: no-telnet, network: blue, proto: tcp, dst_port: 23, action: deny}\n"
	case 2:
		return base + "networks:\n" + blue +
			"acls:\n  - {name: no-udp9k, network: blue, proto: udp, dst_port: \"9000-9100\", action: deny}\n" +
			"  - {name: icmp, network: blue, proto: icmp, action: allow}\n"
	case -1:
		return base + "networks:\n" + blue + "acls:\n  - {name: bad-port, network: blue, proto: tcp, dst_port: 70000, action: deny}\n"
	case -2:
		return base + "networks:\n  - {name: blue, vlan: 5000, ports: [\"p-centos0*\"]}\n"
	case -3:
		return base + "networks: [\n"
	default:
		return base + "networks:\n" + blue + "netwroks: []\n"
	}
}

// writeConfig replaces the config file atomically.
func (s *scenario) writeConfig(variant int) {
	tmp := s.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(s.configText(variant)), 0o644); err != nil {
		s.t.Errorf("write config: %v", err)
		return
	}
	if err := os.Rename(tmp, s.cfgPath); err != nil {
		s.t.Errorf("write config: %v", err)
	}
	if variant >= 0 {
		s.cfgVariant = variant
	}
}

// runChurn runs one loombench churn process to its end (a fixed number of
// rounds) and returns its output.
func (s *scenario) runChurn(name string, args ...string) string {
	full := append([]string{s.b.loombench, "churn", "--controller", "unix:" + s.sock, "--switches", strconv.Itoa(s.p.switches),
		"--seed", strconv.FormatUint(s.seed, 10)}, args...)
	p := s.lab.Start(name, "", nil, full...)
	if err := p.Wait(3 * time.Minute); err != nil {
		s.t.Errorf("%s: %v\n%s", name, err, tail(p.Log(), 10))
		p.Stop()
	}
	return p.Log()
}

var reRound = regexp.MustCompile(`round=(\d+) kind=(\w+) switches=(\d+) dialed=(\d+) retries=(\d+) failed=(\d+) ready=(\d+) dropped=(\d+) reconnects=(\d+) reconnect_ready=(\d+)`)

// warmup runs every load once, briefly, so the baseline is a warm loomd
// that keeps what a run legitimately keeps: the storm's switches in the
// desired store, full MAC tables on the flooded switches, the memory the
// Go runtime holds after a burst of watchers.
func (s *scenario) warmup() {
	// First the floods alone, until the flooded switches' MAC tables are
	// full (the l2 app's desired flows stop growing): bounded state a run
	// keeps, which the baseline must already hold.
	start := time.Now()
	flood := s.startFlood("warmup-flood")
	pk := s.startPktin("warmup-pktin", 2*time.Minute)
	last, stable := -1, time.Now()
	for time.Since(start) < 20*time.Second && time.Since(stable) < 3*time.Second {
		time.Sleep(500 * time.Millisecond)
		if n := s.desiredFlows(); n != last {
			last, stable = n, time.Now()
		}
	}
	s.note("warmup: floods for %v until the MAC tables were full (%d desired flows)", time.Since(start).Round(time.Second), last)
	// Then a storm with every watcher open, the floods going on.
	pool, err := newWatcherPool(s.grpcAddr, s.p.readers, s.p.silent, s.p.pktReaders, s.p.pktSilent)
	if err != nil {
		s.t.Fatal(err)
	}
	out := s.runChurn("warmup-storm", "--rounds", "1", "--kinds", "storm", "--hold", "2s", "--ready-timeout", "60s")
	flood.Stop()
	pk.Stop()
	pool.close()
	s.note("warmup: storm %s", strings.TrimSpace(lastLine(out, "round=1")))
	s.note("warmup: VM flood %s; loombench packet-ins %s", strings.TrimSpace(lastLine(flood.Log(), "final")),
		strings.TrimSpace(lastLine(pk.Log(), "total")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pb.NewControllerServiceClient(s.api).Reload(ctx, &pb.ReloadRequest{}); err != nil {
		s.t.Errorf("warmup reload: %v", err)
	}
}

// desiredFlows is the number of flows loomd's apps declare, over every
// switch (-1 if unknown).
func (s *scenario) desiredFlows() int {
	n, _ := s.desiredByApp()
	return n
}

var reDesired = regexp.MustCompile(`^loom_desired_flows\{app="([^"]*)"\} (\S+)$`)

// desiredByApp is the total of loomd's desired flows and "app=n ..." for
// each app.
func (s *scenario) desiredByApp() (int, string) {
	body, err := s.m.metricsText(context.Background())
	if err != nil {
		return -1, ""
	}
	total := 0
	var parts []string
	for _, l := range strings.Split(body, "\n") {
		if m := reDesired.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			total += int(v)
			parts = append(parts, fmt.Sprintf("%s=%d", m[1], int(v)))
		}
	}
	sort.Strings(parts)
	return total, strings.Join(parts, " ")
}

// startFlood starts the VM flooding frames with random source MACs into
// its switch.
func (s *scenario) startFlood(name string) *harness.Process {
	return s.lab.Start(name, s.vmF.NS, nil, s.b.helper, "flood", "-iface", "eth1", "-rate", strconv.Itoa(s.p.floodRate),
		"-seed", strconv.FormatUint(s.seed, 10))
}

// startPktin starts loombench sending packet-ins with random source MACs
// straight to loomd from two emulated switches.
func (s *scenario) startPktin(name string, d time.Duration) *harness.Process {
	return s.lab.Start(name, "", nil, s.b.loombench, "pktin", "--controller", "unix:"+s.sock, "--switches", "2",
		"--rate", strconv.Itoa(s.p.floodRate), "--duration", d.String(), "--seed", strconv.FormatUint(s.seed, 10))
}

func lastLine(log, contains string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], contains) {
			return lines[i]
		}
	}
	return ""
}

// measure collects garbage in loomd, lets it return memory, and reads
// its goroutines, heap and RSS.
func (s *scenario) measure() sample {
	r := s.m.current()
	if r == nil {
		return sample{err: errors.New("loomd is down")}
	}
	ctx := context.Background()
	if err := s.m.gc(ctx); err != nil {
		return sample{run: r.n, err: fmt.Errorf("gc: %w", err)}
	}
	time.Sleep(2 * time.Second) // the scavenger returns freed memory in the background
	body, err := s.m.metricsText(ctx)
	if err != nil {
		return sample{run: r.n, err: err}
	}
	g, _ := metricValue(body, "go_goroutines")
	heap, _ := metricValue(body, "go_memstats_heap_inuse_bytes")
	sys, _ := metricValue(body, "go_memstats_sys_bytes")
	released, _ := metricValue(body, "go_memstats_heap_released_bytes")
	x := sample{run: r.n, goroutines: int(g), heapKB: int(heap / 1024), goKB: int((sys - released) / 1024), rssKB: procstat.RSSKB(r.proc.PID()),
		cpu: procstat.CPUSeconds(r.proc.PID())}
	x.desired, x.byApp = s.desiredByApp()
	return x
}

// baseline is loomd at rest after the warmup.
func (s *scenario) baseline() sample {
	time.Sleep(s.p.settle)
	var b sample
	for i := 0; i < 2; i++ {
		b = s.measure()
	}
	if b.err != nil {
		s.t.Fatalf("baseline: %v", b.err)
	}
	if err := s.m.heapProfile(context.Background(), filepath.Join(s.lab.Dir(), "base.heap")); err != nil {
		s.t.Logf("baseline heap profile: %v", err)
	}
	s.note("baseline after warmup and %v at rest: %v", s.p.settle, b)
	return b
}

type event struct {
	at   time.Duration
	kind string
}

// schedule spreads each kind of fault over the chaos phase: one per equal
// slot, at a random moment inside it.
func (s *scenario) schedule() []event {
	var evs []event
	spread := func(kind string, n int) {
		if n <= 0 {
			return
		}
		span := float64(s.p.chaos) * 0.85
		slot := span / float64(n)
		for i := 0; i < n; i++ {
			at := float64(s.p.chaos)*0.05 + slot*float64(i) + s.rng.Float64()*slot*0.8
			evs = append(evs, event{at: time.Duration(at), kind: kind})
		}
	}
	spread("kill9", s.p.kills)
	spread("graceful", s.p.graceful)
	spread("ovsdb-flap", s.p.flaps)
	spread("fd-flood", s.p.fdFloods)
	sort.Slice(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	return evs
}

// chaos runs every load and fault at once for the plan's chaos time.
func (s *scenario) chaos() {
	t := s.t
	pool, err := newWatcherPool(s.grpcAddr, s.p.readers, s.p.silent, s.p.pktReaders, s.p.pktSilent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.close)
	s.mu.Lock()
	s.pool = pool
	s.mu.Unlock()
	s.start = time.Now()
	s.churn = s.lab.Start("churn", "", nil, s.b.loombench, "churn", "--controller", "unix:"+s.sock,
		"--switches", strconv.Itoa(s.p.switches), "--hold", s.p.hold.String(), "--ready-timeout", "30s",
		"--seed", strconv.FormatUint(s.seed, 10), "--duration", (s.p.chaos + time.Minute).String())
	s.flood = s.startFlood("flood")
	s.pktin = s.startPktin("pktin", s.p.chaos+time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); s.reloadStorm(ctx) }()
	t.Cleanup(func() { cancel(); bg.Wait() }) // if the test fails before the end
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan struct{})
	go func() { defer close(sdone); s.sampler(sctx) }()
	s.stopSampler = func() { scancel(); <-sdone }
	t.Cleanup(s.stopSampler)
	evs := s.schedule()
	var plan []string
	for _, e := range evs {
		plan = append(plan, fmt.Sprintf("%s@%.0fs", e.kind, e.at.Seconds()))
	}
	s.note("chaos for %v: %d switches churning, %d+%d topology watchers (reading+never), %d+%d packet-in watchers, "+
		"%d frames/s from a VM and %d packet-ins/s from loombench (random sources), reloads every %v; faults: %s",
		s.p.chaos, s.p.switches, s.p.readers, s.p.silent, s.p.pktReaders, s.p.pktSilent, s.p.floodRate, s.p.floodRate,
		s.p.reloadEvery, strings.Join(plan, " "))

	end := s.start.Add(s.p.chaos)
	for i := 0; ; {
		next := end
		if i < len(evs) {
			next = s.start.Add(evs[i].at)
		}
		select {
		case r := <-s.m.exits:
			s.handleExit(r)
			continue
		case <-time.After(time.Until(next)):
		}
		if i >= len(evs) {
			break
		}
		s.do(evs[i].kind)
		i++
	}
	// An exit that raced with the end of the phase.
	s.drainExits()
	cancel()
	bg.Wait()
}

func (s *scenario) drainExits() {
	for {
		select {
		case r := <-s.m.exits:
			s.handleExit(r)
		default:
			return
		}
	}
}

// handleExit restarts a loomd that exited on its own: a crash.
func (s *scenario) handleExit(r *loomdRun) {
	s.m.mu.Lock()
	intended := r.intended
	s.m.mu.Unlock()
	if intended {
		return
	}
	c := s.m.noteCrash(r)
	s.note("CRASH of loomd #%d (%s):\n%s", r.n, c.err, c.symptom)
	s.restart(fmt.Sprintf("crash of #%d", r.n))
}

// restart checks the database a dead loomd left and starts a new one on
// it.
func (s *scenario) restart(why string) {
	s.cfgMu.Lock()
	s.writeConfig(s.cfgVariant)
	s.cfgMu.Unlock()
	info, err := dbCheck(s.db)
	s.mu.Lock()
	if err != nil {
		s.dbFailures = append(s.dbFailures, fmt.Sprintf("after %s: %v", why, err))
	} else {
		s.dbChecks = append(s.dbChecks, info)
	}
	s.mu.Unlock()
	if err != nil {
		s.t.Errorf("bbolt file after %s: %v", why, err)
	}
	r, err := s.m.start()
	if err != nil {
		s.mu.Lock()
		s.startFails = append(s.startFails, err.Error())
		s.mu.Unlock()
		s.t.Errorf("loomd did not start again on its db after %s: %v", why, err)
		if r, err = s.m.start(); err != nil {
			s.t.Fatalf("loomd did not start a second time either: %v", err)
		}
	}
	s.note("loomd #%d up after %s (db ok: %s)", r.n, why, info)
	s.mu.Lock()
	pool := s.pool
	s.mu.Unlock()
	if pool != nil {
		go pool.reopenSilent()
	}
	go func() {
		// The ping bridge reconnecting, for the report (OVS backs off at
		// most 1s between attempts).
		start := time.Now()
		want := fmt.Sprintf("dpid=0x%016x", s.br1.DPID)
		for time.Since(start) < 60*time.Second {
			for _, l := range strings.Split(r.proc.Log(), "\n") {
				if strings.Contains(l, "switch connected") && strings.Contains(l, want) {
					s.mu.Lock()
					s.reconnects = append(s.reconnects, fmt.Sprintf("#%d: %v", r.n, time.Since(r.ready).Round(time.Millisecond)))
					s.mu.Unlock()
					return
				}
			}
			select {
			case <-r.exited:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
		s.mu.Lock()
		s.reconnects = append(s.reconnects, fmt.Sprintf("#%d: not within 60s", r.n))
		s.mu.Unlock()
	}()
}

// do runs one fault.
func (s *scenario) do(kind string) {
	switch kind {
	case "kill9":
		r := s.m.current()
		if r == nil {
			s.note("kill -9 skipped: loomd is down")
			return
		}
		s.note("kill -9 loomd #%d (pid %d)", r.n, r.proc.PID())
		s.m.kill9(r)
		s.restart(fmt.Sprintf("kill -9 of #%d", r.n))
	case "graceful":
		r := s.m.current()
		if r == nil {
			return
		}
		s.note("SIGTERM loomd #%d with %d streams open", r.n, s.p.readers+s.p.silent+s.p.pktReaders+s.p.pktSilent)
		took, hang, exitErr := s.m.stop(r, s.p.graceBound, fmt.Sprintf("graceful stop of #%d", r.n))
		s.recordStop(r, took, hang, exitErr)
		s.restart(fmt.Sprintf("graceful stop of #%d", r.n))
	case "ovsdb-flap":
		s.flapOVSDB()
	case "fd-flood":
		from := time.Now()
		p := s.lab.Start("hello", "", nil, s.b.loombench, "hello", "--controller", "unix:"+s.sock,
			"--conns", strconv.Itoa(s.p.helloConns), "--duration", s.p.helloFor.String())
		s.mu.Lock()
		s.hellos = append(s.hellos, p)
		s.fdWindows = append(s.fdWindows, downWindow{from: from, to: from.Add(s.p.helloFor + 2*time.Second), why: "fd flood"})
		s.mu.Unlock()
		s.note("fd flood: %d HELLO-only connections for %v (loomd has %d descriptors)", s.p.helloConns, s.p.helloFor, s.p.nofile)
	}
}

func (s *scenario) recordStop(r *loomdRun, took time.Duration, problem string, exitErr error) {
	line := fmt.Sprintf("#%d stopped in %v, exit: %v", r.n, took.Round(time.Millisecond), errString(exitErr))
	s.mu.Lock()
	s.stops = append(s.stops, line)
	if problem != "" {
		s.hangs = append(s.hangs, fmt.Sprintf("loomd #%d on SIGTERM: %s", r.n, problem))
	}
	s.mu.Unlock()
	if problem != "" {
		s.note("UNCLEAN SHUTDOWN of #%d: %s", r.n, problem)
	} else {
		s.note("graceful stop: %s", line)
	}
}

func errString(err error) string {
	if err == nil {
		return "0"
	}
	return err.Error()
}

// flapOVSDB kills a hypervisor's ovsdb-server (the harness's process, by
// the PID in its pidfile), leaves it down a moment and starts it again.
func (s *scenario) flapOVSDB() {
	// The flooding VM's hypervisor, not the pinging VMs': OVS 3.1's
	// userspace datapath itself stops forwarding for seconds whenever its
	// own ovsdb-server dies or comes back (a plain actions=NORMAL bridge
	// without any controller lost 885 of 2023 10ms-pings over three such
	// restarts here), which would drown what this suite measures about
	// Loom. loomd's side of a flap is the same for either hypervisor.
	h := s.hv2
	pidFile := filepath.Join(h.RunDir, "ovsdb-server.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		s.t.Errorf("ovsdb flap: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "ovsdb-server") || !strings.Contains(string(cmdline), h.RunDir) {
		s.t.Errorf("ovsdb flap: pid %q from %s is not this lab's ovsdb-server (%q)", b, pidFile, cmdline)
		return
	}
	down := time.Duration(500+s.rng.IntN(2500)) * time.Millisecond
	from := time.Now()
	syscall.Kill(pid, syscall.SIGKILL)
	s.note("ovsdb-server of %s killed (pid %d), down for %v", h.Name, pid, down)
	time.Sleep(down)
	h.RestartOVSDB()
	s.mu.Lock()
	s.flapWindows = append(s.flapWindows, downWindow{from: from, to: time.Now().Add(2 * time.Second), why: "ovsdb flap " + h.Name})
	s.mu.Unlock()
}

// reloadStorm reloads loomd's config every reloadEvery, by SIGHUP,
// `loomctl reload` or the API in turn, with a valid or (one in five) an
// invalid file, and checks each answer.
func (s *scenario) reloadStorm(ctx context.Context) {
	rng := rand.New(rand.NewPCG(s.seed, 42))
	methods := []string{"sighup", "loomctl", "api"}
	cc := pb.NewControllerServiceClient(s.api)
	for i := 0; ctx.Err() == nil; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.p.reloadEvery):
		}
		r := s.m.current()
		if r == nil {
			continue
		}
		variant := rng.IntN(3)
		if rng.IntN(5) == 0 {
			variant = -1 - rng.IntN(4)
		}
		method := methods[i%len(methods)]
		s.cfgMu.Lock()
		s.writeConfig(variant)
		var err error
		switch method {
		case "sighup":
			err = r.proc.Signal(syscall.SIGHUP)
		case "loomctl":
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			out, e := exec.CommandContext(cctx, s.b.loomctl, "--server", s.grpcAddr, "--timeout", "10s", "reload").CombinedOutput()
			cancel()
			if e != nil {
				err = fmt.Errorf("%v: %s", e, strings.TrimSpace(string(out)))
			}
		case "api":
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = cc.Reload(cctx, &pb.ReloadRequest{})
			cancel()
		}
		if variant < 0 {
			// Leave a valid file behind for the next start.
			s.writeConfig(rng.IntN(3))
		}
		s.cfgMu.Unlock()
		if ctx.Err() != nil {
			return // cut off by the end of the chaos, not answered
		}
		s.countReload(method, variant, err)
	}
}

func (s *scenario) countReload(method string, variant int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.reloads
	if st.byMethod == nil {
		st.byMethod = map[string]int{}
	}
	st.byMethod[method]++
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	wrong := func(why string) {
		st.wrong++
		if len(st.wrongSamples) < 5 {
			st.wrongSamples = append(st.wrongSamples, fmt.Sprintf("%s of variant %d: %s", method, variant, why))
		}
	}
	switch {
	case method == "sighup":
		if err != nil {
			st.unreachable++
		} else if variant < 0 {
			st.rejected++
		} else {
			st.ok++
		}
	case strings.Contains(msg, "too many open files"):
		// During an fd flood loomd cannot open the file to read it: that
		// is Unavailable (try again), never a verdict on the file.
		if status.Code(err) != codes.Unavailable && !strings.Contains(msg, "Unavailable") {
			wrong("out of descriptors answered as " + msg)
			break
		}
		st.emfile++
		if st.emfileSample == "" {
			st.emfileSample = method + ": " + msg
		}
	case status.Code(err) == codes.Unavailable || strings.Contains(msg, "Unavailable") || strings.Contains(msg, "connection refused"):
		st.unreachable++
	case status.Code(err) == codes.DeadlineExceeded || strings.Contains(msg, "DeadlineExceeded"):
		st.timeouts++
	case variant >= 0 && err == nil:
		st.ok++
	case variant >= 0:
		wrong("a valid file was refused: " + msg)
	case err == nil:
		wrong("an invalid file was accepted")
	case status.Code(err) == codes.FailedPrecondition || strings.Contains(msg, "FailedPrecondition"):
		st.rejected++
	default:
		wrong("an invalid file got: " + msg)
	}
}

// sampler reads loomd's resources every 2s and logs progress every 10s.
func (s *scenario) sampler(ctx context.Context) {
	var lastPkt float64
	var lastAt time.Time
	lastRun := 0
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		r := s.m.current()
		if r == nil {
			continue
		}
		body, err := s.m.metricsText(ctx)
		if err != nil {
			continue
		}
		g, _ := metricValue(body, "go_goroutines")
		pkt, _ := metricValue(body, "loom_packet_ins_total")
		dropped, _ := metricValue(body, "loom_packet_ins_dropped_total")
		rss := procstat.RSSKB(r.proc.PID())
		now := time.Now()
		s.mu.Lock()
		if int(g) > s.peak.goroutines {
			s.peak.goroutines, s.peak.run = int(g), r.n
		}
		if rss > s.peak.rssKB {
			s.peak.rssKB = rss
		}
		if r.n == lastRun && pkt >= lastPkt {
			s.pktRate = append(s.pktRate, (pkt-lastPkt)/now.Sub(lastAt).Seconds())
		}
		if r.n != lastRun {
			s.pktDroppedDone += s.pktDroppedRun
		}
		s.pktDroppedRun = dropped
		s.pktDropped = s.pktDroppedDone + dropped
		rate := 0.0
		if n := len(s.pktRate); n > 0 {
			rate = s.pktRate[n-1]
		}
		s.mu.Unlock()
		lastPkt, lastAt, lastRun = pkt, now, r.n
		s.mu.Lock()
		pool := s.pool
		s.mu.Unlock()
		if i%5 == 0 && pool != nil {
			sw, _ := metricValue(body, "loom_switches_connected")
			ping := strings.TrimSpace(lastLine(s.pinger.Log(), "stat "))
			if f := strings.Fields(ping); len(f) > 2 {
				ping = strings.Join(f[2:], " ")
			}
			s.t.Logf("t%+.0fs loomd #%d: goroutines=%d rss=%.0fMiB switches=%.0f packet-ins/s=%.0f; watchers: %d events; churn rounds=%d; ping %s",
				time.Since(s.start).Seconds(), r.n, int(g), float64(rss)/1024, sw, rate, pool.events.Load(),
				strings.Count(s.churn.Log(), " round="), ping)
		}
	}
}

// stopLoad ends the load generators.
func (s *scenario) stopLoad() {
	t0 := time.Now()
	var steps []string
	step := func(what string) {
		steps = append(steps, fmt.Sprintf("%s %v", what, time.Since(t0).Round(100*time.Millisecond)))
		t0 = time.Now()
	}
	s.churn.Signal(syscall.SIGTERM)
	if err := s.churn.Wait(90 * time.Second); err != nil {
		s.t.Errorf("loombench churn: %v", err)
		s.churn.Stop()
	}
	step("churn")
	s.flood.Stop()
	s.pktin.Stop()
	for _, h := range s.hellos {
		if err := h.Wait(time.Minute); err != nil {
			s.t.Errorf("loombench hello: %v", err)
			h.Stop()
		}
	}
	step("floods")
	s.rewritten = s.youngFlows(s.br1)
	// The baseline's config again, so the desired state compares (ACL
	// rules add flows to every switch).
	s.cfgMu.Lock()
	s.writeConfig(0)
	s.cfgMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if _, err := pb.NewControllerServiceClient(s.api).Reload(ctx, &pb.ReloadRequest{}); err != nil {
		s.restoreErr = err
		s.t.Errorf("reload of the baseline config after the load: %v", err)
	}
	cancel()
	step("reload")
	// The fake OVSDB is load too: loomd now finds it refusing connections.
	s.fakeSummary = s.fake.Summary()
	s.fake.Close()
	s.drainExits()
	s.note("load stopped (%s): churn %s", strings.Join(steps, ", "), strings.TrimSpace(lastLine(s.churn.Log(), "total")))
}

// probeWatchers makes one topology change and checks that every reading
// watcher sees it: a watcher loomd stopped serving is stalled.
func (s *scenario) probeWatchers() (stalled string) {
	s.drainExits()
	if r := s.m.current(); r == nil {
		return "loomd down"
	}
	// First let the watchers work through what the chaos left queued for
	// them (loomd keeps up to 1024 events per watcher): until no events
	// arrive for 2s, or probeWait.
	drainStart := time.Now()
	last, quiet := s.pool.events.Load(), time.Now()
	for time.Since(quiet) < 2*time.Second && time.Since(drainStart) < s.p.probeWait {
		time.Sleep(250 * time.Millisecond)
		if n := s.pool.events.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	drained := time.Since(quiet) >= 2*time.Second
	s.note("watcher probe: backlog drained=%v after %v", drained, time.Since(drainStart).Round(100*time.Millisecond))
	// The probe is a new internal port on the ping bridge: its session is
	// not the one with a packet-in backlog, and a port joining must not
	// disturb the pings either.
	if _, err := s.hv1.Vsctl("add-port", s.br1.Name, "soakprobe", "--", "set", "Interface", "soakprobe", "type=internal"); err != nil {
		s.t.Errorf("probe port: %v", err)
		return "no probe"
	}
	defer s.hv1.Vsctl("del-port", s.br1.Name, "soakprobe")
	tc := pb.NewTopologyServiceClient(s.api)
	var rev uint64
	var lastErr error
	added := time.Now()
	deadline := added.Add(2 * s.p.probeWait)
	for time.Now().Before(deadline) && rev == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := tc.ListPorts(ctx, &pb.ListPortsRequest{Dpid: s.br1.DPID})
		cancel()
		lastErr = err
		if err == nil {
			for _, p := range resp.Ports {
				if p.Name == "soakprobe" {
					rev = resp.Revision
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if rev == 0 {
		s.t.Errorf("loomd's topology never showed a port added to %s (waited %v; last ListPorts error: %v)", s.br1.Name, 2*s.p.probeWait, lastErr)
		return "probe port never in the topology"
	}
	s.note("watcher probe: the new port was in the topology %v after ovs-vsctl add-port (revision %d)",
		time.Since(added).Round(time.Millisecond), rev)
	// A watcher behind the probe that still receives events is slow (it
	// works through a backlog); one that receives nothing for stallAfter
	// while behind, with its stream open, is stalled.
	const stallAfter = 10 * time.Second
	n := len(s.pool.readers)
	seen := make([]int64, n)
	progress := make([]time.Time, n)
	for i, w := range s.pool.readers {
		seen[i], progress[i] = w.events.Load(), time.Now()
	}
	var behind, nStalled, closed int
	deadline = time.Now().Add(s.p.probeWait)
	for {
		behind, nStalled, closed = 0, 0, 0
		now := time.Now()
		for i, w := range s.pool.readers {
			if ev := w.events.Load(); ev != seen[i] {
				seen[i], progress[i] = ev, now
			}
			if w.last.Load() >= rev {
				continue
			}
			behind++
			switch {
			case !w.live.Load():
				closed++
			case now.Sub(progress[i]) >= stallAfter:
				nStalled++
			}
		}
		if behind == 0 || nStalled > 0 && behind == nStalled+closed || now.After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	res := fmt.Sprintf("%d of %d reading watchers saw revision %d", n-behind, n, rev)
	if behind > 0 {
		res += fmt.Sprintf("; behind: %d stalled (stream open, no event for %v), %d without an open stream, %d still catching up after %v",
			nStalled, stallAfter, closed, behind-nStalled-closed, s.p.probeWait)
	}
	s.note("watcher probe: %s", res)
	if nStalled > 0 && !drained {
		// Still busy with the chaos' backlog when the probe went in: a
		// watcher waiting its turn is not told from a stalled one.
		s.note("watcher probe: not judged: the backlog had not drained in %v", s.p.probeWait)
		return ""
	}
	if nStalled > 0 {
		return res
	}
	return ""
}

// finalStorm: with the chaos over, every switch of one more storm must get
// its initial flows.
func (s *scenario) finalStorm() roundLine {
	s.drainExits()
	// Held a few seconds, so whatever loomd does after a switch's setup
	// (refreshes) has happened before the desired state is read.
	out := s.runChurn("final-storm", "--rounds", "1", "--kinds", "storm", "--hold", s.p.finalHold.String(), "--ready-timeout", "90s")
	rl := parseRound(lastLine(out, "round=1"))
	s.note("final storm: %s", strings.TrimSpace(lastLine(out, "round=1")))
	s.staleACL = s.checkStalePolicy()
	return rl
}

// checkStalePolicy asks what the storm's switches (just connected, and
// gone again) and the real switches declare in the ACL tables. The running
// config is the baseline's, which has no ACL rules, so a "rule/..." key
// is a rule a reload removed that the switch still gets.
func (s *scenario) checkStalePolicy() string {
	fc := pb.NewFlowServiceClient(s.api)
	dpids := []uint64{s.br1.DPID, s.br2.DPID}
	for i := 0; i < 20 && i < s.p.switches; i++ {
		dpids = append(dpids, 0x30000+uint64(i*s.p.switches/20))
	}
	var stale []string
	for _, d := range dpids {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := fc.ListFlows(ctx, &pb.ListFlowsRequest{Dpid: d, App: "acl"})
		cancel()
		if err != nil {
			stale = append(stale, fmt.Sprintf("0x%x: %v", d, err))
			continue
		}
		keys := map[string]bool{}
		for _, f := range resp.Flows {
			if strings.HasPrefix(f.Key, "rule/") {
				keys[f.Key] = true
			}
		}
		if len(keys) > 0 {
			var ks []string
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			stale = append(stale, fmt.Sprintf("0x%x: %s", d, strings.Join(ks, ",")))
		}
	}
	if len(stale) == 0 {
		s.note("policy: none of %d switches sampled declares an ACL rule the running config lacks", len(dpids))
		return ""
	}
	res := fmt.Sprintf("%d of %d switches sampled declare ACL rules the running config (no rules) does not have: %s",
		len(stale), len(dpids), strings.Join(firstN(stale, 4), "; "))
	if s.restoreErr != nil {
		res += fmt.Sprintf(" (the reload to that config had answered %v)", s.restoreErr)
	}
	s.note("policy: %s", res)
	return res
}

type roundLine struct{ switches, dialed, failed, ready int }

func parseRound(line string) roundLine {
	m := reRound.FindStringSubmatch(line)
	if m == nil {
		return roundLine{}
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return roundLine{switches: n(3), dialed: n(4), failed: n(6), ready: n(7)}
}

// mem is the memory figure the run asserts on: RSS, except under the race
// detector, whose shadow memory (several times the heap, for every address
// the heap ever used) is never returned to the OS; there it is the Go heap
// in use after a collection, and RSS is only reported.
func (s *scenario) mem(x sample) int {
	if s.b.race {
		return x.heapKB
	}
	return x.rssKB
}

func (s *scenario) memName() string {
	if s.b.race {
		return "the Go heap in use after a GC (RSS is not comparable under -race)"
	}
	return "RSS"
}

func withinBound(base, after int, slack int) bool {
	return float64(after) <= float64(base)*1.10+float64(slack)
}

// settleAndMeasure waits for loomd to come to rest and measures it again;
// it keeps measuring (up to another settle period) while it is above the
// bound, so a slow return to the baseline is not a leak.
func (s *scenario) settleAndMeasure(base sample) sample {
	s.drainExits()
	r := s.m.current()
	cpu0, t0 := 0.0, time.Now()
	if r != nil {
		cpu0 = procstat.CPUSeconds(r.proc.PID())
	}
	time.Sleep(s.p.settle)
	var a sample
	deadline := time.Now().Add(s.p.settle)
	for {
		a = s.measure()
		if a.err == nil && withinBound(base.goroutines, a.goroutines, goroutineSlack) && withinBound(s.mem(base), s.mem(a), rssSlackKB) {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if r != nil && r == s.m.current() {
		s.restCPU = fmt.Sprintf("%.1f CPU-seconds in %v at rest", procstat.CPUSeconds(r.proc.PID())-cpu0, time.Since(t0).Round(time.Second))
	}
	s.note("after the load and %v at rest: %v; %s", s.p.settle, a, s.restCPU)
	if err := s.m.heapProfile(context.Background(), filepath.Join(s.lab.Dir(), "after.heap")); err != nil {
		s.t.Logf("heap profile: %v", err)
	}
	return a
}

// finalFlows waits (up to two verify intervals and a margin) until every
// real switch holds its desired flows.
func (s *scenario) finalFlows() []flowResult {
	s.drainExits()
	fc := pb.NewFlowServiceClient(s.api)
	var res []flowResult
	deadline := time.Now().Add(40 * time.Second)
	for {
		res = res[:0]
		done := true
		for _, br := range []*harness.Bridge{s.br1, s.br2} {
			r := checkFlows(context.Background(), fc, br, s.lab.Dir())
			res = append(res, r)
			if r.err != nil || len(r.missing) > 0 || r.desired == 0 {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(3 * time.Second)
	}
	for _, r := range res {
		s.note("flows: %v", r)
	}
	return res
}

var reDuration = regexp.MustCompile(`duration=([0-9.]+)s, table=(\d+),`)

// youngFlows lists the ping bridge's flows outside the ACL tables that
// were (re)installed after the chaos began: a hitless controller leaves
// them alone through restarts, reloads that do not touch them, storms and
// floods (reported, not asserted).
func (s *scenario) youngFlows(br *harness.Bridge) []string {
	flows, err := br.DumpFlows()
	if err != nil {
		return []string{err.Error()}
	}
	age := time.Since(s.start).Seconds()
	var young []string
	for _, f := range flows {
		m := reDuration.FindStringSubmatch(f)
		if m == nil || m[2] == "1" || m[2] == "2" {
			continue
		}
		if d, _ := strconv.ParseFloat(m[1], 64); d < age {
			young = append(young, f)
		}
	}
	return young
}

type pingResult struct {
	sent, recv, lost, late int
	lostDown, lostUp       int
	lostUpIn               map[string]int // of lostUp: during which other fault
	maxRTT                 string
	resumed, restarts      int
	final                  bool
}

var (
	reLost  = regexp.MustCompile(`^lost seq=(\d+) sent=(\d+)`)
	reLate  = regexp.MustCompile(`^late seq=(\d+)`)
	reFinal = regexp.MustCompile(`^final t=\d+ sent=(\d+) recv=(\d+) lost=(\d+) late=(\d+) send_errors=\d+ max_rtt=(\S+)`)
	reStat  = regexp.MustCompile(`^stat t=(\d+) sent=\d+ recv=(\d+)`)
)

// stopPinger ends the pinger and sorts its losses into the windows when
// loomd was down and the rest.
func (s *scenario) stopPinger() pingResult {
	s.pinger.Stop()
	log := s.pinger.Log()
	s.m.mu.Lock()
	windows := append([]downWindow(nil), s.m.windows...)
	s.m.mu.Unlock()
	s.mu.Lock()
	others := append(append([]downWindow(nil), s.flapWindows...), s.fdWindows...)
	s.mu.Unlock()
	in := func(ws []downWindow, at time.Time) (string, bool) {
		for _, w := range ws {
			if !at.Before(w.from) && !at.After(w.to) {
				return w.why, true
			}
		}
		return "", false
	}
	res := pingResult{lostUpIn: map[string]int{}}
	late := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		if m := reLate.FindStringSubmatch(l); m != nil {
			late[m[1]] = true
		}
	}
	type stat struct {
		at   time.Time
		recv int
	}
	var stats []stat
	for _, l := range strings.Split(log, "\n") {
		if m := reLost.FindStringSubmatch(l); m != nil && !late[m[1]] {
			ns, _ := strconv.ParseInt(m[2], 10, 64)
			at := time.Unix(0, ns)
			if _, ok := in(windows, at); ok {
				res.lostDown++
			} else {
				res.lostUp++
				if why, ok := in(others, at); ok {
					res.lostUpIn[strings.Fields(why)[0]+" "+strings.Fields(why)[1]]++
				} else {
					res.lostUpIn["no other fault"]++
				}
			}
		}
		if m := reStat.FindStringSubmatch(l); m != nil {
			ns, _ := strconv.ParseInt(m[1], 10, 64)
			n, _ := strconv.Atoi(m[2])
			stats = append(stats, stat{time.Unix(0, ns), n})
		}
		if m := reFinal.FindStringSubmatch(l); m != nil {
			res.final = true
			res.sent, _ = strconv.Atoi(m[1])
			res.recv, _ = strconv.Atoi(m[2])
			res.lost, _ = strconv.Atoi(m[3])
			res.late, _ = strconv.Atoi(m[4])
			res.maxRTT = m[5]
		}
	}
	// Pings went on after every restart: replies counted in the seconds
	// after loomd came back.
	for _, w := range windows {
		res.restarts++
		before := -1
		for _, st := range stats {
			if st.at.Before(w.to) {
				before = st.recv
			} else if st.at.After(w.to.Add(2*time.Second)) && before >= 0 && st.recv > before {
				res.resumed++
				break
			}
		}
	}
	if !res.final {
		s.t.Errorf("the pinger printed no final line:\n%s", tail(log, 10))
	}
	return res
}

// shutdownWithStreams stops loomd with SIGTERM while watchers (some of
// them never reading) hold streams open.
func (s *scenario) shutdownWithStreams() string {
	r := s.m.current()
	if r == nil {
		return "loomd down"
	}
	pool, err := newWatcherPool(s.grpcAddr, 50, 20, 5, 5)
	if err != nil {
		s.t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	took, problem, exitErr := s.m.stop(r, s.p.graceBound, "final stop")
	s.recordStop(r, took, problem, exitErr)
	pool.close()
	s.drainExits()
	if problem != "" {
		return "unclean: " + firstLines(problem, 1)
	}
	return fmt.Sprintf("stopped in %v, exit %s", took.Round(time.Millisecond), errString(exitErr))
}

var reRace = regexp.MustCompile(`WARNING: DATA RACE`)

// report prints the summary and fails the test on what must not happen.
func (s *scenario) report(base, after sample, stalled string, final roundLine, flows []flowResult, pings pingResult, shutdown string) {
	t := s.t
	s.m.mu.Lock()
	runs := append([]*loomdRun(nil), s.m.runs...)
	crashes := append([]crash(nil), s.m.crashes...)
	windows := len(s.m.windows)
	s.m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()

	races, firstRace, recovered := 0, "", 0
	warn := map[string]int{}
	ghost := map[string]bool{}
	var ghostErrs []string
	for _, r := range runs {
		log := r.proc.Log()
		for _, l := range strings.Split(log, "\n") {
			if !strings.Contains(l, "hypervisor=ghost") {
				continue
			}
			if m := reErrField.FindStringSubmatch(l); m != nil {
				e := m[1]
				if len(e) > 110 {
					e = e[:110] + "..."
				}
				if !ghost[e] {
					ghost[e] = true
					ghostErrs = append(ghostErrs, e)
				}
			}
		}
		if n := len(reRace.FindAllStringIndex(log, -1)); n > 0 {
			if firstRace == "" {
				i := strings.Index(log, "WARNING: DATA RACE")
				rep := log[i:]
				if j := strings.Index(rep, "=================="); j > 0 {
					rep = rep[:j]
				}
				firstRace = firstLines(rep, 30)
			}
			races += n
		}
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "level=error") || strings.Contains(l, "level=warning") {
				if strings.Contains(l, "panic") {
					recovered++
				}
				if m := reMsg.FindStringSubmatch(l); m != nil {
					warn[m[1]]++
				}
			}
		}
	}
	var warnTop []string
	for m, n := range warn {
		warnTop = append(warnTop, fmt.Sprintf("%6d  %s", n, m))
	}
	sort.Slice(warnTop, func(i, j int) bool { return warnTop[i] > warnTop[j] })
	if len(warnTop) > 8 {
		warnTop = warnTop[:8]
	}
	sort.Float64s(s.pktRate)
	pktMedian, pktMax := 0.0, 0.0
	if n := len(s.pktRate); n > 0 {
		pktMedian, pktMax = s.pktRate[n/2], s.pktRate[n-1]
	}
	floodLine := strings.TrimSpace(lastLine(s.flood.Log(), "final"))
	var hellos []string
	for _, h := range s.hellos {
		hellos = append(hellos, strings.TrimPrefix(strings.TrimSpace(lastLine(h.Log(), "total")), "hello total "))
	}
	r := s.reloads

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("==== soak %s summary (seed %d, loomd race=%v, chaos %v, run %v) ====", s.p.name, s.seed, s.b.race, s.p.chaos,
		time.Since(s.began).Round(time.Second))
	w("crashes (unintended loomd exits): %d", len(crashes))
	for _, c := range crashes {
		w("  #%d at t%+.1fs: %s | %s", c.run, c.at.Sub(s.start).Seconds(), c.err, strings.ReplaceAll(firstLines(c.symptom, 3), "\n", " | "))
	}
	w("loomd processes: %d (kill -9/stops/crashes -> %d down windows); restart on the kept db: %d ok, %d db failures, %d start failures",
		len(runs), windows, len(s.dbChecks), len(s.dbFailures), len(s.startFails))
	w("  ping bridge reconnected after restart: %s", strings.Join(s.reconnects, ", "))
	w("graceful stops: %s", strings.Join(s.stops, "; "))
	w("unclean shutdowns (SIGTERM with streams open: not done in %v, or a non-zero exit): %d", s.p.graceBound, len(s.hangs))
	for _, h := range s.hangs {
		w("  %s", strings.ReplaceAll(firstLines(h, 6), "\n", "\n    "))
	}
	w("pings: sent %d, replies %d, lost %d (while loomd down %d, while up %d %v), late %d, max rtt %s; resumed after %d of %d restarts",
		pings.sent, pings.recv, pings.lost, pings.lostDown, pings.lostUp, pings.lostUpIn, pings.late, pings.maxRTT, pings.resumed, pings.restarts)
	w("goroutines: baseline %d, peak %d, after %d   RSS: baseline %.1fMiB, peak %.1fMiB, after %.1fMiB",
		base.goroutines, s.peak.goroutines, after.goroutines, mib(base.rssKB), mib(s.peak.rssKB), mib(after.rssKB))
	w("  Go-held memory %.1f -> %.1fMiB, heap in use %.1f -> %.1fMiB; asserted: %s within +10%% +%dMiB; loomd at rest: %s",
		mib(base.goKB), mib(after.goKB), mib(base.heapKB), mib(after.heapKB), s.memName(), rssSlackKB>>10, s.restCPU)
	w("VM flood into OVS: %s", floodLine)
	w("loombench packet-in flood: %s", strings.TrimPrefix(strings.TrimSpace(lastLine(s.pktin.Log(), "total")), "pktin total "))
	w("  loomd counted packet-ins/s: median %.0f, max %.0f; dropped by loomd (queue full): %.0f", pktMedian, pktMax, s.pktDropped)
	w("churn: %s", strings.TrimPrefix(strings.TrimSpace(lastLine(s.churn.Log(), "total")), "churn "))
	w("final storm: %d of %d switches got their initial flows (%d never connected)", final.ready, final.switches, final.failed)
	w("  stale policy: %s", orNone(s.staleACL))
	w("fd floods: %s", strings.Join(hellos, "; "))
	w("watchers: %s", s.poolSummary)
	w("  stalled: %s", orNone(stalled))
	w("reloads: ok %d, rejected as expected %d, wrong answers %d, loomd unreachable %d, timeouts %d, out of descriptors %d %v",
		r.ok, r.rejected, r.wrong, r.unreachable, r.timeouts, r.emfile, r.byMethod)
	if r.emfileSample != "" {
		w("  out of descriptors: %s", r.emfileSample)
	}
	for _, x := range r.wrongSamples {
		w("  %s", x)
	}
	w("ovsdb flaps: %d; fake OVSDB: %s", len(s.flapWindows), s.fakeSummary)
	w("  what loomd made of the fake OVSDB (%d distinct errors):", len(ghostErrs))
	for i, e := range ghostErrs {
		if i < 8 {
			w("    %s", e)
		}
	}
	for _, f := range flows {
		w("flows %v", f)
		for i, l := range f.missing {
			if i < 5 {
				w("  missing: %s", l)
			}
		}
	}
	w("ping bridge flows outside the ACL tables (re)installed during the run: %d", len(s.rewritten))
	for i, l := range s.rewritten {
		if i < 4 {
			w("  %s", l)
		}
	}
	w("data races: %d; panics logged (recovered): %d; shutdown: %s", races, recovered, shutdown)
	w("top warnings/errors in loomd's logs:")
	for _, l := range warnTop {
		w("  %s", l)
	}
	summary := b.String()
	t.Log("\n" + summary)
	if path := os.Getenv("SOAK_REPORT"); path != "" {
		os.WriteFile(path, []byte(summary), 0o644)
	}

	// What fails the run. No timing thresholds: only the bounded
	// waits above (which fail as "never") and go test -timeout.
	if len(crashes) > 0 {
		t.Errorf("%d loomd crashes; first: %s\n%s", len(crashes), crashes[0].err, crashes[0].symptom)
	}
	if races > 0 {
		t.Errorf("%d data race reports in loomd's logs; first:\n%s", races, firstRace)
	}
	if len(s.dbFailures)+len(s.startFails) > 0 {
		t.Errorf("loomd's db after a kill: %v %v", s.dbFailures, s.startFails)
	}
	if pings.lostUp > 0 {
		t.Errorf("%d pings lost while loomd was up (%v)", pings.lostUp, pings.lostUpIn)
	}
	if pings.resumed < pings.restarts {
		t.Errorf("pings resumed after only %d of %d restarts", pings.resumed, pings.restarts)
	}
	if base.err == nil && after.err == nil {
		if !withinBound(base.goroutines, after.goroutines, goroutineSlack) {
			t.Errorf("goroutines did not return to the baseline: %d -> %d (bound: +10%% +%d)", base.goroutines, after.goroutines, goroutineSlack)
		}
		if !withinBound(s.mem(base), s.mem(after), rssSlackKB) {
			t.Errorf("%s did not return to the baseline: %.1f -> %.1f MiB (bound: +10%% +%d MiB; desired flows %d -> %d); heap growth since the baseline:\n%s",
				s.memName(), mib(s.mem(base)), mib(s.mem(after)), rssSlackKB>>10, base.desired, after.desired,
				heapGrowth(s.b.loomd, filepath.Join(s.lab.Dir(), "base.heap"), filepath.Join(s.lab.Dir(), "after.heap")))
		}
	} else {
		t.Errorf("resources after the run not measured: %v", after.err)
	}
	for _, f := range flows {
		if f.err != nil || len(f.missing) > 0 || f.desired == 0 {
			t.Errorf("switch does not hold its desired flows: %v (first missing: %v)", f, firstN(f.missing, 3))
		}
	}
	if final.ready != s.p.switches {
		t.Errorf("after the chaos only %d of %d switches got their initial flows", final.ready, s.p.switches)
	}
	if stalled != "" {
		t.Errorf("stalled watchers: %s", stalled)
	}
	if s.staleACL != "" {
		t.Errorf("switches keep the flows of ACL rules a reload removed: %s", s.staleACL)
	}
	for _, h := range s.hangs {
		t.Errorf("unclean shutdown: %s", h)
	}
	if r.wrong > 0 {
		t.Errorf("%d reloads answered wrongly: %v", r.wrong, r.wrongSamples)
	}
}

var reErrField = regexp.MustCompile(`error="((?:[^"\\]|\\.)*)"`)

var reMsg = regexp.MustCompile(`msg="?([^"=]+?)"?( \w+=|$)`)

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func firstLines(s string, n int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, "\n")
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
