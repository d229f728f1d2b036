package controller

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/internal/benchsize"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/store"
)

// BenchmarkDurableSetFlows measures acknowledged SetFlows per second
// against a real bbolt file (fsync on every commit) with 1, 8 and 64
// concurrent clients: group commit is what lets the rate grow with the
// clients instead of staying at one fsync per ack.
func BenchmarkDurableSetFlows(b *testing.B) {
	for _, clients := range benchsize.Pick([]int{1, 8, 64}, []int{2}) {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			bolt, err := store.Open(filepath.Join(b.TempDir(), "loom.db"))
			if err != nil {
				b.Fatal(err)
			}
			st := &flakyStore{Bolt: bolt, inSave: make(chan struct{}, 1)}
			log, _ := test.NewNullLogger()
			log.SetLevel(logrus.WarnLevel)
			c, err := New(Config{Log: log, Store: st}, tableZero{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { c.Close(); bolt.Close() }()
			a := c.testAPI()
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						// 256 keys per client: the file stays small, every write replaces one.
						req := &pb.SetFlowsRequest{Client: fmt.Sprintf("c%d", i), Key: fmt.Sprintf("k%d", n%256), Dpid: durableDPID,
							Flows: []string{fmt.Sprintf("table=0, priority=100,in_port=%d actions=drop", n%60000+1)}}
						if _, err := a.SetFlows(context.Background(), req); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acks/s")
			b.ReportMetric(float64(b.N)/float64(st.commits()), "acks/commit")
		})
	}
}
