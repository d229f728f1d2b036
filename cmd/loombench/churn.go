package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// churn runs connect storms with churn, round after round, until its
// duration ends or it is told to stop (SIGINT, SIGTERM): every round N
// switches (always the same DPIDs) connect at once and wait for their
// initial flows. A storm round then holds and disconnects them all; a churn
// round meanwhile drops a random share of them and reconnects each at once
// with the same DPID, as a switch that restarts does, while the controller
// may still hold its old session. A controller that goes away (killed,
// restarted) is part of the plan: failed dials are retried until the ready
// timeout and counted, dropped connections are counted, and the next round
// starts afresh. One line per round and one total line on exit, in
// key=value form for tests to read.
func churn(args []string) error {
	fs := flag.NewFlagSet("churn", flag.ExitOnError)
	fs.BoolVar(&emulateTables, "tables", true, "switches keep the flows they get and report them in flow-stats replies, as OVS does")
	addr := fs.String("controller", "127.0.0.1:6653", "controller address: HOST:PORT, tcp:HOST:PORT or unix:PATH")
	n := fs.Int("switches", 2000, "switches per storm")
	nports := fs.Int("ports", 4, "ports per switch")
	base := fs.Uint64("dpid-base", 0x30000, "DPID of the first switch; the others follow")
	duration := fs.Duration("duration", 0, "stop after this long (0: when the rounds are done, or on SIGINT/SIGTERM)")
	rounds := fs.Int("rounds", 0, "stop after this many rounds (0: until --duration or a signal)")
	hold := fs.Duration("hold", 2*time.Second, "how long a round keeps its switches connected once ready")
	readyTimeout := fs.Duration("ready-timeout", 30*time.Second, "give up waiting for a round's initial flows after this")
	share := fs.Float64("churn", 0.3, "share of the switches a churn round drops and reconnects")
	kinds := fs.String("kinds", "storm,churn", "round kinds in turn: storm, churn, or both")
	seed := fs.Uint64("seed", 1, "random seed for the churn picks")
	label := fs.String("label", "", "name for the result lines")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	var order []string
	switch *kinds {
	case "storm", "churn":
		order = []string{*kinds}
	case "storm,churn", "churn,storm":
		order = []string{(*kinds)[:5], (*kinds)[6:]}
	default:
		return fmt.Errorf("--kinds: %q is not storm, churn or storm,churn", *kinds)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	rng := rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	var tot roundResult
	done := 0
	for r := 1; *rounds == 0 || r <= *rounds; r++ {
		if ctx.Err() != nil {
			break
		}
		kind := order[(r-1)%len(order)]
		res := churnRound(ctx, *addr, *base, *n, *nports, kind, *hold, *readyTimeout, *share, rng)
		done++
		fmt.Printf("churn %sround=%d kind=%s %s\n", labelled(*label), r, kind, res)
		tot.add(res)
	}
	fmt.Printf("churn %stotal rounds=%d %s\n", labelled(*label), done, tot.totals())
	return nil
}

func labelled(label string) string {
	if label == "" {
		return ""
	}
	return "label=" + label + " "
}

// roundResult counts one round (or, summed, all of them).
type roundResult struct {
	switches    int
	dialed      int // switches that got a connection, at first or on retry
	retries     int // dials that failed and were tried again
	failed      int // switches that never got a connection within the ready timeout
	ready       int // switches that got their initial flows
	dropped     int // connections the controller closed before the round did
	reconnects  int // churn: switches dropped and reconnected with the same DPID
	reconnReady int // churn: of those, how many got their initial flows again
	lats        []time.Duration
	took        time.Duration
}

func (r *roundResult) add(o roundResult) {
	r.switches += o.switches
	r.dialed += o.dialed
	r.retries += o.retries
	r.failed += o.failed
	r.ready += o.ready
	r.dropped += o.dropped
	r.reconnects += o.reconnects
	r.reconnReady += o.reconnReady
}

func (r roundResult) totals() string {
	return fmt.Sprintf("switches=%d dialed=%d retries=%d failed=%d ready=%d dropped=%d reconnects=%d reconnect_ready=%d",
		r.switches, r.dialed, r.retries, r.failed, r.ready, r.dropped, r.reconnects, r.reconnReady)
}

func (r roundResult) String() string {
	s := r.totals()
	sort.Slice(r.lats, func(i, j int) bool { return r.lats[i] < r.lats[j] })
	if len(r.lats) > 0 {
		s += fmt.Sprintf(" p50=%v p99=%v max=%v", pct(r.lats, 50), pct(r.lats, 99), r.lats[len(r.lats)-1].Round(time.Millisecond))
	}
	return s + fmt.Sprintf(" took=%v", r.took.Round(time.Millisecond))
}

// churnRound is one round: connect every switch at once, wait for their
// initial flows, hold (dropping and reconnecting some in a churn round),
// then disconnect them all.
func churnRound(ctx context.Context, addr string, base uint64, n, nports int, kind string, hold, readyTimeout time.Duration,
	share float64, rng *rand.Rand) roundResult {
	start := time.Now()
	deadline := start.Add(readyTimeout)
	res := roundResult{switches: n}
	sws := make([]*emu, n)
	var retries atomic.Int64
	dialAll := func(idx []int) {
		var wg sync.WaitGroup
		for _, i := range idx {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					e, err := dial(addr, base+uint64(i), nports)
					if err == nil {
						sws[i] = e
						return
					}
					if ctx.Err() != nil || time.Now().After(deadline) {
						return
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	dialAll(all)
	defer func() { closeAll(sws) }()
	for _, e := range sws {
		if e != nil {
			res.dialed++
		}
	}
	res.failed = n - res.dialed
	waitReady(ctx, sws, all, deadline)
	for _, e := range sws {
		if e == nil {
			continue
		}
		if t := readyAt(e); t > 0 {
			res.ready++
			res.lats = append(res.lats, time.Unix(0, t).Sub(e.connected))
		}
	}

	holdUntil := time.Now().Add(hold)
	if kind == "churn" && res.dialed > 0 {
		k := int(float64(n) * share)
		picks := rng.Perm(n)[:k]
		var again []int
		for _, i := range picks {
			if e := sws[i]; e != nil {
				if dropped(e) {
					res.dropped++
				}
				e.conn.Close()
				sws[i] = nil
				again = append(again, i)
			}
		}
		res.reconnects = len(again)
		deadline = time.Now().Add(readyTimeout)
		dialAll(again)
		waitReady(ctx, sws, again, deadline)
		for _, i := range again {
			if e := sws[i]; e != nil && readyAt(e) > 0 {
				res.reconnReady++
			}
		}
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(holdUntil)):
	}
	for _, e := range sws {
		if e != nil && dropped(e) {
			res.dropped++
		}
	}
	res.retries = int(retries.Load())
	res.took = time.Since(start)
	return res
}

// waitReady waits until every connected switch of idx has its initial
// flows or has been dropped, the deadline passes or ctx ends.
func waitReady(ctx context.Context, sws []*emu, idx []int, deadline time.Time) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pending := 0
		for _, i := range idx {
			if e := sws[i]; e != nil && readyAt(e) == 0 && !dropped(e) {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dropped reports whether the controller closed e's connection (its
// reader has ended).
func dropped(e *emu) bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
