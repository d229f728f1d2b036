package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// watch opens topology watch streams against loomd's gRPC API, some read
// and some never read, and reports what the readers got: the load
// thousands of dashboards and external apps put on loomd.
func watch(args []string) error {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	addr := fs.String("api", "127.0.0.1:9652", "loomd's gRPC address")
	readers := fs.Int("watchers", 1000, "streams that read every event")
	silent := fs.Int("silent", 0, "streams opened and never read")
	perConn := fs.Int("streams-per-conn", 100, "streams sharing one HTTP/2 connection")
	duration := fs.Duration("duration", 30*time.Second, "how long to watch")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var conns []*grpc.ClientConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	client := func(i int) (pb.TopologyServiceClient, error) {
		if i%*perConn == 0 {
			c, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
		}
		return pb.NewTopologyServiceClient(conns[len(conns)-1]), nil
	}
	var events, opened, ended atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *readers+*silent; i++ {
		tc, err := client(i)
		if err != nil {
			return err
		}
		s, err := tc.WatchTopology(ctx, &pb.WatchTopologyRequest{}, grpc.WaitForReady(true))
		if err != nil {
			return fmt.Errorf("watch %d: %w", i, err)
		}
		opened.Add(1)
		if i >= *readers {
			continue // never read: its stream fills and stays full
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := s.Recv(); err != nil {
					if ctx.Err() == nil {
						ended.Add(1)
					}
					return
				}
				events.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("watch readers=%d silent=%d opened=%d events=%d (%.0f/s over all readers) ended_early=%d seconds=%.1f\n",
		*readers, *silent, opened.Load(), events.Load(), float64(events.Load())/secs, ended.Load(), secs)
	return nil
}
