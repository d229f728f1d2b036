package main

import (
	"flag"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loomsdn/loom/internal/procstat"
)

// mac returns host i of switch s: locally administered, unique.
func mac(s, i int) [6]byte {
	return [6]byte{0x02, byte(s >> 8), byte(s), byte(i >> 16), byte(i >> 8), byte(i)}
}

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func reactive(args []string) error {
	fs := flag.NewFlagSet("reactive", flag.ExitOnError)
	addr := fs.String("controller", "127.0.0.1:6653", "controller address: HOST:PORT, tcp:HOST:PORT or unix:PATH")
	nsw := fs.Int("switches", 16, "emulated switches")
	nmac := fs.Int("macs", 1000, "hosts (MACs) per switch")
	nports := fs.Int("ports", 4, "ports per switch")
	window := fs.Int("window", 64, "outstanding packet-ins per switch (1: latency mode)")
	duration := fs.Duration("duration", 10*time.Second, "measurement time")
	pid := fs.Int("pid", 0, "controller PID, to report its CPU time per response")
	label := fs.String("label", "", "name for the result line")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	sws, err := connectAll(*addr, *nsw, *nports)
	if err != nil {
		return err
	}
	defer closeAll(sws)
	time.Sleep(time.Second) // let the controller finish its setup of every switch

	// Learn: every host appears once, from its port.
	learnStart := time.Now()
	var wg sync.WaitGroup
	for si, e := range sws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < *nmac; i++ {
				src := mac(si, i)
				e.expect(broadcast, src)
				e.send(e.packetIn(uint32(i+1), uint32(1+i%*nports), broadcast, src))
				if i%*window == *window-1 {
					waitAnswers(e, *window, 5*time.Second)
				}
			}
			// The last, partial window.
			deadline := time.Now().Add(5 * time.Second)
			for e.answered.Load() < uint64(*nmac) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	learned := uint64(0)
	for _, e := range sws {
		learned += e.answered.Load()
	}
	fmt.Printf("# learn phase: %d of %d packet-ins answered in %v\n", learned, *nsw**nmac, time.Since(learnStart).Round(time.Millisecond))
	for _, e := range sws {
		for len(e.answers) > 0 {
			<-e.answers
		}
	}

	// Measure: packet-ins between learned hosts on different ports.
	base := make([]uint64, len(sws))
	fmBase, poBase := make([]uint64, len(sws)), make([]uint64, len(sws))
	for i, e := range sws {
		base[i], fmBase[i], poBase[i] = e.answered.Load(), e.flowMods.Load(), e.packetOuts.Load()
	}
	cpu0 := procstat.CPUSeconds(*pid)
	stop := time.Now().Add(*duration)
	var latMu sync.Mutex
	var lats []time.Duration
	var sent atomic.Uint64
	start := time.Now()
	for si, e := range sws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inflight := 0
			n := 0
			var batch [][]byte
			for time.Now().Before(stop) {
				// Top the window up in one write: the generator must not be
				// what limits the rate.
				batch = batch[:0]
				var t0 time.Time
				for inflight < *window {
					i := n % *nmac
					j := (i + 1) % *nmac // the next host sits on the next port
					src, dst := mac(si, i), mac(si, j)
					e.expect(dst, src)
					batch = append(batch, e.packetIn(uint32(n), uint32(1+i%*nports), dst, src))
					inflight++
					n++
				}
				sent.Add(uint64(len(batch)))
				t0 = time.Now()
				e.sendBatch(batch)
				select {
				case t1 := <-e.answers:
					inflight--
					if *window == 1 {
						latMu.Lock()
						lats = append(lats, t1.Sub(t0))
						latMu.Unlock()
					}
				case <-time.After(time.Second):
					inflight = 0 // lost: not answered; start a fresh window
					continue
				}
				// Take whatever else has been answered meanwhile.
				for more := true; more && inflight > 0; {
					select {
					case <-e.answers:
						inflight--
					default:
						more = false
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := procstat.CPUSeconds(*pid) - cpu0
	var answered, fms, pos uint64
	for i, e := range sws {
		answered += e.answered.Load() - base[i]
		fms += e.flowMods.Load() - fmBase[i]
		pos += e.packetOuts.Load() - poBase[i]
	}
	rate := float64(answered) / elapsed.Seconds()
	line := fmt.Sprintf("reactive %s switches=%d macs=%d window=%d: %.0f responses/s (%d answered of %d sent in %v; flow_mods=%d packet_outs=%d)",
		*label, *nsw, *nmac, *window, rate, answered, sent.Load(), elapsed.Round(time.Millisecond), fms, pos)
	if *pid != 0 && answered > 0 {
		line += fmt.Sprintf(" cpu=%.2fs %.2fµs/response", cpu, cpu/float64(answered)*1e6)
	}
	if len(lats) > 0 {
		sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
		line += fmt.Sprintf(" latency p50=%v p99=%v", pct(lats, 50), pct(lats, 99))
	}
	fmt.Println(line)
	return nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	if i >= len(d) {
		i = len(d) - 1
	}
	if i > 0 {
		i--
	}
	return d[i].Round(time.Microsecond)
}

func waitAnswers(e *emu, n int, timeout time.Duration) {
	deadline := time.After(timeout)
	for ; n > 0; n-- {
		select {
		case <-e.answers:
		case <-deadline:
			return
		}
	}
}

func connectAll(addr string, n, ports int) ([]*emu, error) {
	sws := make([]*emu, n)
	for i := range sws {
		e, err := dial(addr, uint64(0x10000+i), ports)
		if err != nil {
			closeAll(sws[:i])
			return nil, fmt.Errorf("switch %d: %w", i, err)
		}
		sws[i] = e
	}
	return sws, nil
}

func closeAll(sws []*emu) {
	for _, e := range sws {
		if e != nil {
			e.conn.Close()
		}
	}
}
