package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/loomsdn/loom/openflow"
)

// hello opens many connections that send an OpenFlow 1.3 HELLO and then
// nothing: they answer no request and read only to notice when the
// controller hangs up. It shows what a controller does when peers hold more
// connections than it has file descriptors. With --redial a connection the
// controller closed is opened again, so the pressure stays up for the whole
// duration. One line per second and one total line on exit, in key=value
// form for tests to read.
func hello(args []string) error {
	fs := flag.NewFlagSet("hello", flag.ExitOnError)
	addr := fs.String("controller", "127.0.0.1:6653", "controller address: HOST:PORT, tcp:HOST:PORT or unix:PATH")
	n := fs.Int("conns", 1000, "connections to hold open at once")
	duration := fs.Duration("duration", 10*time.Second, "hold them this long (or until SIGINT/SIGTERM)")
	redial := fs.Bool("redial", true, "open a connection again when the controller closes it")
	label := fs.String("label", "", "name for the result lines")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()

	var open, maxOpen, opened, refused, closedByPeer atomic.Int64
	var wg sync.WaitGroup
	helloMsg := openflow.Encode(openflow.HelloMsg{}, 1)
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c, err := dialController(*addr, 5*time.Second)
				if err != nil {
					refused.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
					continue
				}
				opened.Add(1)
				if o := open.Add(1); o > maxOpen.Load() {
					maxOpen.Store(o) // racy maximum: good enough for a report
				}
				stopClose := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Write(helloMsg)      // a failed write ends the copy below as well
				_, _ = io.Copy(io.Discard, c) // until the controller or we close it
				stopClose()
				open.Add(-1)
				c.Close()
				if ctx.Err() != nil {
					return
				}
				closedByPeer.Add(1)
				if !*redial {
					return
				}
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	line := func() string {
		return fmt.Sprintf("conns=%d open=%d max_open=%d opened=%d refused=%d closed_by_peer=%d", *n, open.Load(), maxOpen.Load(),
			opened.Load(), refused.Load(), closedByPeer.Load())
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			fmt.Printf("hello %st=%v %s\n", labelled(*label), time.Since(start).Round(time.Second), line())
		}
	}
	wg.Wait()
	fmt.Printf("hello %stotal %s\n", labelled(*label), line())
	return nil
}
