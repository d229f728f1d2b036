package tunnel

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/benchsize"
	"github.com/loomsdn/loom/topology"
)

// countCtx is an apps.Context that only counts what is declared.
type countCtx struct{ sets, deletes int }

func (c *countCtx) Set(uint64, string, ...flow.Flow) { c.sets++ }
func (c *countCtx) Delete(uint64, string)            { c.deletes++ }
func (c *countCtx) PacketOut(apps.PacketOut)         {}
func (c *countCtx) RefreshSwitch(uint64)             {}
func (c *countCtx) Now() time.Time                   { return time.Unix(1000, 0) }
func (c *countCtx) Log() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// meshSite is hosts hypervisors with 10 VMs each, half blue, half red.
func meshSite(hosts int) topology.Snapshot {
	vms := make([][]string, hosts)
	for i := range vms {
		for j := 0; j < 10; j++ {
			prefix := "b"
			if j%2 == 1 {
				prefix = "r"
			}
			vms[i] = append(vms[i], fmt.Sprintf("%s%d-%d", prefix, i, j))
		}
	}
	return site(vms...)
}

// BenchmarkMeshChange measures what one change costs every switch of an
// N-host mesh (10 VMs each, two networks) together, incremental beside
// the full recompute, in the same run: a host joining (its 10 VMs with
// it) and a VM moving to another host. The index (a copy of the topology
// and its delta from the last, once per change for all switches) is
// reported apart and included in the incremental total.
//
//	go test -run '^$' -bench MeshChange -benchtime 3x ./apps/tunnel
func BenchmarkMeshChange(b *testing.B) {
	for _, hosts := range benchsize.Pick([]int{10, 100, 1000}, []int{10}) {
		for _, change := range []string{"join", "move"} {
			b.Run(fmt.Sprintf("hosts=%d/%s", hosts, change), func(b *testing.B) {
				p := policy(b)
				before := meshSite(hosts)
				after := meshSite(hosts)
				switch change {
				case "join":
					after = meshSite(hosts + 1)
				case "move": // hv1's first VM shows up on hv2 and leaves hv1
					vm := after.Ports[1]
					after.Ports = append(after.Ports[:1], after.Ports[2:]...)
					vm.DPID, vm.No = 0xc2, 99
					after.Ports = append(after.Ports, vm)
				}
				after.Revision = before.Revision + 1
				var index, incr, full time.Duration
				var sets int
				for i := 0; i < b.N; i++ {
					a := New(Options{})
					x0 := buildIndex(before, p)
					a.addIndex(x0, p)
					for _, sw := range before.Switches {
						a.refreshWith(&countCtx{}, sw.DPID, x0, p, x0.liveFrom(always))
					}
					runtime.GC() // the setup's garbage is not the change's cost
					start := time.Now()
					x1 := buildIndex(after, p)
					a.addIndex(x1, p)
					index += time.Since(start)
					ctx := &countCtx{}
					for _, sw := range after.Switches {
						a.refreshWith(ctx, sw.DPID, x1, p, x1.liveFrom(always))
					}
					incr += time.Since(start)
					sets += ctx.sets + ctx.deletes

					start = time.Now()
					x := buildIndex(after, p)
					for _, sw := range after.Switches {
						_ = Flows(x.view(sw.DPID, x.liveFrom(always)), p)
					}
					full += time.Since(start)
				}
				n := float64(b.N)
				b.ReportMetric(float64(index.Microseconds())/1000/n, "ms-index")
				b.ReportMetric(float64(incr.Microseconds())/1000/n, "ms-incremental-all")
				b.ReportMetric(float64(full.Microseconds())/1000/n, "ms-full-all")
				b.ReportMetric(float64(sets)/n, "keys-declared")
			})
		}
	}
}

// BenchmarkMeshMemory reports what the tunnel app holds for an N-host
// mesh (10 VMs each, two networks) once every switch has declared its
// flows: the index, the declared keys per switch and the members views
// (the desired flows themselves are the controller's, measured by
// BenchmarkDesiredMemoryPerFlow).
//
//	go test -run '^$' -bench MeshMemory -benchtime 1x ./apps/tunnel
func BenchmarkMeshMemory(b *testing.B) {
	for _, hosts := range benchsize.Pick([]int{100, 1000}, []int{10}) {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			p, snap := policy(b), meshSite(hosts)
			var held uint64
			for i := 0; i < b.N; i++ {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				a := New(Options{})
				x := buildIndex(snap, p)
				a.addIndex(x, p)
				for _, sw := range snap.Switches {
					a.refreshWith(&countCtx{}, sw.DPID, x, p, x.liveFrom(always))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(a)
			}
			b.ReportMetric(float64(held)/(1<<20), "MB-held")
			b.ReportMetric(float64(held)/float64(hosts)/1024, "KB/host")
		})
	}
}
