package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pktin floods the controller with packet-ins at a fixed rate, each from a
// random source MAC, from a few emulated switches, without waiting for
// answers (it counts them). Unlike frames sent into a real switch, these
// keep coming whatever flows the controller installs to shed them, so they
// load the controller's packet-in path for the whole run. A switch the
// controller drops (or a controller that restarts) is dialled again. One
// line per second and one total line on exit, in key=value form.
func pktin(args []string) error {
	fs := flag.NewFlagSet("pktin", flag.ExitOnError)
	addr := fs.String("controller", "127.0.0.1:6653", "controller address: HOST:PORT, tcp:HOST:PORT or unix:PATH")
	nsw := fs.Int("switches", 2, "emulated switches sending")
	nports := fs.Int("ports", 4, "ports per switch")
	base := fs.Uint64("dpid-base", 0x40000, "DPID of the first switch; the others follow")
	rate := fs.Int("rate", 50000, "packet-ins per second, all switches together")
	duration := fs.Duration("duration", 10*time.Second, "flood this long (or until SIGINT/SIGTERM)")
	seed := fs.Uint64("seed", 1, "random seed for the source MACs")
	label := fs.String("label", "", "name for the result lines")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	var sent, reconnects, dialFails atomic.Uint64
	var mu sync.Mutex
	var flowMods, packetOuts uint64 // of switches already replaced
	start := time.Now()
	perSwitch := float64(*rate) / float64(*nsw)
	var wg sync.WaitGroup
	for s := 0; s < *nsw; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(*seed, uint64(s)))
			var e *emu
			defer func() {
				if e != nil {
					e.conn.Close()
				}
			}()
			mine := uint64(0)
			batch := make([][]byte, 0, 512)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			for ctx.Err() == nil {
				if e == nil || dropped(e) {
					if e != nil {
						mu.Lock()
						flowMods += e.flowMods.Load()
						packetOuts += e.packetOuts.Load()
						mu.Unlock()
						e.conn.Close()
						reconnects.Add(1)
					}
					var err error
					if e, err = dial(*addr, *base+uint64(s), *nports); err != nil {
						e = nil
						dialFails.Add(1)
						select {
						case <-ctx.Done():
						case <-time.After(200 * time.Millisecond):
						}
						continue
					}
					// Let the handshake and the initial flows go first, as
					// a real switch's first packet would.
					deadline := time.Now().Add(10 * time.Second)
					for readyAt(e) == 0 && !dropped(e) && time.Now().Before(deadline) && ctx.Err() == nil {
						time.Sleep(10 * time.Millisecond)
					}
				}
				select {
				case <-ctx.Done():
					continue
				case <-tick.C:
				}
				target := uint64(time.Since(start).Seconds() * perSwitch)
				batch = batch[:0]
				for mine < target && len(batch) < cap(batch) {
					r := rng.Uint64()
					src := [6]byte{byte(r)&0xfc | 0x02, byte(r >> 8), byte(r >> 16), byte(r >> 24), byte(r >> 32), byte(r >> 40)}
					batch = append(batch, e.packetIn(uint32(mine), uint32(1+mine%uint64(*nports)), broadcast, src))
					mine++
				}
				if mine < target {
					mine = target // behind: what could not be sent in time is not sent late
				}
				if len(batch) > 0 {
					e.sendBatch(batch)
					sent.Add(uint64(len(batch)))
				}
			}
			if e != nil {
				mu.Lock()
				flowMods += e.flowMods.Load()
				packetOuts += e.packetOuts.Load()
				mu.Unlock()
			}
		}()
	}
	line := func() string {
		secs := time.Since(start).Seconds()
		return fmt.Sprintf("sent=%d seconds=%.1f rate=%.0f reconnects=%d dial_failures=%d", sent.Load(), secs,
			float64(sent.Load())/secs, reconnects.Load(), dialFails.Load())
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			fmt.Printf("pktin %s%s\n", labelled(*label), line())
		}
	}
	wg.Wait()
	fmt.Printf("pktin %stotal %s flow_mods=%d packet_outs=%d\n", labelled(*label), line(), flowMods, packetOuts)
	return nil
}
