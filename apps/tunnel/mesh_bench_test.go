package tunnel

import (
	"fmt"
	"testing"
	"time"

	"github.com/loomsdn/loom/internal/benchsize"
)

// BenchmarkMeshScale builds a mesh of N hypervisors, each with 10 VMs in
// two networks (VNIs), and reports per host: tunnel ports on the bridge
// (Loom's flow-based port, against the N-1 of a port per peer), the flows
// the mesh needs, and the time to recompute every switch's view after a
// host joins: the shared index once, then each switch's view and flows
// (each switch recomputes on its own goroutine; installing the difference
// is the reconciler's, measured by the flow-install benchmark).
//
//	go test -run '^$' -bench MeshScale -benchtime 3x ./apps/tunnel
func BenchmarkMeshScale(b *testing.B) {
	for _, hosts := range benchsize.Pick([]int{10, 100, 1000}, []int{10}) {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			snap, p := meshSite(hosts), policy(b)
			var took, indexing time.Duration
			flows := 0
			for i := 0; i < b.N; i++ {
				start := time.Now()
				flows = 0
				idx := buildIndex(snap, p) // once per topology change, shared by every switch
				indexing = time.Since(start)
				for h := 0; h < hosts; h++ {
					m := idx.view(uint64(0xc1+h), idx.liveFrom(always))
					for _, fs := range Flows(m, p) {
						flows += len(fs)
					}
				}
				took = time.Since(start)
			}
			b.ReportMetric(1, "ports/bridge")
			b.ReportMetric(float64(hosts-1), "ports/bridge-per-peer-design")
			b.ReportMetric(float64(flows)/float64(hosts), "mesh-flows/host")
			b.ReportMetric(float64(indexing.Microseconds())/1000, "ms-index")
			b.ReportMetric(float64((took-indexing).Microseconds())/1000/float64(hosts), "ms/switch")
			b.ReportMetric(float64(took.Milliseconds()), "ms-all-switches")
		})
	}
}
