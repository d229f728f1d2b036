package main

import (
	"flag"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/loomsdn/loom/internal/procstat"
)

func connect(args []string) error {
	fs := flag.NewFlagSet("connect", flag.ExitOnError)
	addr := fs.String("controller", "127.0.0.1:6653", "controller address: HOST:PORT, tcp:HOST:PORT or unix:PATH")
	n := fs.Int("switches", 2000, "switches connecting at once")
	nports := fs.Int("ports", 4, "ports per switch")
	timeout := fs.Duration("timeout", 60*time.Second, "give up waiting after this")
	pid := fs.Int("pid", 0, "controller PID, to report its RSS per switch")
	label := fs.String("label", "", "name for the result line")
	fs.BoolVar(&emulateTables, "tables", true, "switches keep the flows they get and report them in flow-stats replies, as OVS does")
	hold := fs.Duration("hold", 0, "keep the switches connected this long after the result (to profile the controller)")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	rss0 := procstat.RSSKB(*pid)
	start := time.Now()
	sws := make([]*emu, *n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed int
	for i := range sws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := dial(*addr, uint64(0x20000+i), *nports)
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			sws[i] = e
		}()
	}
	wg.Wait()
	defer closeAll(sws)
	// Wait until every switch has its initial flows (or the timeout).
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		ready := 0
		for _, e := range sws {
			if e != nil && readyAt(e) > 0 {
				ready++
			}
		}
		if ready == *n-failed {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lats []time.Duration
	var last time.Time
	for _, e := range sws {
		if e == nil {
			continue
		}
		if t := readyAt(e); t > 0 {
			at := time.Unix(0, t)
			lats = append(lats, at.Sub(e.connected))
			if at.After(last) {
				last = at
			}
		}
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	time.Sleep(time.Second) // idle: the controller settles
	rss1 := procstat.RSSKB(*pid)
	line := fmt.Sprintf("connect %s switches=%d: %d with initial flows", *label, *n, len(lats))
	if len(lats) > 0 {
		line += fmt.Sprintf(" (all within %v of the first dial) p50=%v p99=%v max=%v", last.Sub(start).Round(time.Millisecond),
			pct(lats, 50), pct(lats, 99), lats[len(lats)-1].Round(time.Millisecond))
	}
	if failed > 0 {
		line += fmt.Sprintf(", %d failed to connect", failed)
	}
	if *pid != 0 && len(lats) > 0 {
		line += fmt.Sprintf(", RSS %d→%d KB = %.1f KB per switch", rss0, rss1, float64(rss1-rss0)/float64(len(lats)))
	}
	fmt.Println(line)
	time.Sleep(*hold)
	return nil
}

// readyAt is when a switch had its initial flows confirmed (by a barrier
// or a bundle commit), or else when its first flow arrived; 0 if neither.
func readyAt(e *emu) int64 {
	if t := e.confirmed.Load(); t > 0 {
		return t
	}
	return e.firstFlowMod.Load()
}
