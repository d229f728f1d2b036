package controller

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/benchsize"
)

// BenchmarkDesiredMemoryPerFlow reports the controller heap each desired
// flow costs (declared in 1,000-flow keys, as an app with many objects
// would), for 100k and 1M flows.
func BenchmarkDesiredMemoryPerFlow(b *testing.B) {
	for _, n := range benchsize.Pick([]int{100_000, 1_000_000}, []int{1_000}) {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				d := newDesiredStore()
				for k := 0; k < n/1000; k++ {
					flows := make([]flow.Flow, 1000)
					for i := range flows {
						id := k*1000 + i
						flows[i] = flow.Flow{Table: 1, Priority: 100,
							Match:   flow.Match{}.EthDst(flow.MAC{2, 0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}),
							Actions: []flow.Action{flow.Output(uint32(1 + id%48))}}
					}
					d.set(1, owner{"bench", fmt.Sprint(k)}, 9, flows)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "B/flow")
				runtime.KeepAlive(d)
			}
		})
	}
}
