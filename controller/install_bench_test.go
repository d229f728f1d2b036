package controller

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/apps/static"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/benchsize"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
)

// BenchmarkConnectInstall100k: a switch connects and Loom installs 100k
// declared flows into the in-memory switch (handshake, dump, diff, one
// bundle). The in-process peer costs CPU too; the real-OVS comparison
// with ovs-ofctl is BenchmarkFlowInstall100k in package integration.
func BenchmarkConnectInstall100k(b *testing.B) {
	n := benchsize.Pick(100_000, 1_000)
	entries := make([]static.Entry, n)
	for i := range entries {
		entries[i] = static.Entry{All: true, Flow: flow.Flow{Table: 1, Priority: 200,
			Match: flow.Match{}.EthDst(flow.MAC{2, byte(i >> 16), byte(i >> 8), byte(i), 0, 1}), Actions: []flow.Action{flow.Output(1)}}}
	}
	for b.Loop() {
		r := newRigQuiet(b, l2.New(l2.Options{}), static.New(entries))
		sw := fakeswitch.Start(r.dialB(b), 0xb1)
		for sw.Table.Counts().Bundles == 0 {
			select {
			case <-sw.Changed():
			case <-sw.Done():
				b.Fatal("switch disconnected")
			}
		}
		if got := len(sw.Table.Entries()); got != n+2 {
			b.Fatalf("%d flows installed, want %d", got, n+2)
		}
		sw.Close()
		r.stop()
	}
}

// BenchmarkStaleFlows is issue 12: a switch whose table holds n flows
// carrying Loom's cookie marker that nobody declares, beside 312 desired
// flows (300 of them already installed). One full reconcile: dump (the
// body is prebuilt; the connection only counts what is sent), diff, apply
// in one bundle. peak-RSS-MiB is the process's high-water mark during the
// passes, body-MiB the reply body they read (part of that peak).
//
//	go test -run '^$' -bench StaleFlows -benchmem -benchtime 3x ./controller
func BenchmarkStaleFlows(b *testing.B) {
	for _, n := range benchsize.Pick([]int{200_000, 2_000_000}, []int{2_000}) {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			const desired = 312
			o := owner{"bench", "desired"}
			var flows []flow.Flow
			for i := 0; i < desired; i++ {
				flows = append(flows, flow.Flow{Table: 1, Priority: 200,
					Match: flow.Match{}.EthDst(flow.MAC{2, 0xd, 0, byte(i >> 8), byte(i), 1}), Actions: []flow.Action{flow.Output(uint32(i%8 + 1))}})
			}
			body := staleBody(flows[:300], o.cookie(1), n)
			conn := &countConn{body: body}
			log := logrus.New()
			log.SetOutput(io.Discard)
			runtime.GC()
			debug.FreeOSMemory()
			resetPeakRSS()
			before := procStatusKB("VmRSS")
			b.ResetTimer()
			mods := 0
			for b.Loop() {
				d := newDesiredStore()
				d.set(1, o, 1, flows)
				rec := newReconciler(conn, 1, d, logrus.NewEntry(log), &Stats{}, time.Minute, KeepForeign)
				rec.startProbe(context.Background())
				rec.awaitProbe()
				conn.sent = 0
				if _, err := rec.full(context.Background()); err != nil {
					b.Fatal(err)
				}
				mods = conn.sent
			}
			b.StopTimer()
			b.ReportMetric(float64(mods), "flow-mods/op")
			b.ReportMetric(float64(len(body))/(1<<20), "body-MiB")
			b.ReportMetric(float64(procStatusKB("VmHWM"))/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(procStatusKB("VmHWM")-before)/1024, "RSS-growth-MiB")
			runtime.KeepAlive(body)
		})
	}
}

// staleBody encodes a FLOW multipart body: installed (with cookie) and n
// stale Loom-marked flows, 88 bytes each as OVS reports them.
func staleBody(installed []flow.Flow, cookie flow.Cookie, n int) []byte {
	body := make([]byte, 0, (len(installed)+n)*88)
	for _, f := range installed {
		body = openflow.AppendFlowStats(body, openflow.FlowStats{TableID: f.Table, Priority: f.Priority, Cookie: uint64(cookie),
			Match: f.Match.OXMs(), Instructions: f.Instructions()})
	}
	ins := openflow.AppendInstructions(nil, []openflow.Instruction{openflow.ApplyActions(openflow.Output(1))})
	for i := 0; i < n; i++ {
		m := flow.Match{}.EthDst(flow.MAC{2, 0xe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		body = openflow.AppendFlowStats(body, openflow.FlowStats{TableID: 1, Priority: 100,
			Cookie: uint64(flow.MakeCookie(1, 0, uint32(i))), Match: m.OXMs(), RawInstructions: ins})
	}
	return body
}

// countConn answers every request at once and counts the flow-mods and
// bundle adds sent, encoding nothing.
type countConn struct {
	body []byte
	xid  uint32
	sent int
}

func (c *countConn) Send(m openflow.Outgoing) (uint32, error) {
	c.xid++
	switch m.(type) {
	case openflow.FlowMod, openflow.BundleAdd:
		c.sent++
	}
	return c.xid, nil
}

func (c *countConn) Request(context.Context, openflow.Outgoing) (openflow.Message, error) {
	c.xid++
	return &openflow.BarrierReply{}, nil
}

func (c *countConn) Multipart(context.Context, openflow.MultipartRequest) ([]byte, error) {
	return c.body, nil
}

func (c *countConn) Watch() errorWatch { return countWatch{c} }

type countWatch struct{ c *countConn }

func (w countWatch) Send(m openflow.Outgoing) (uint32, error) { return w.c.Send(m) }
func (w countWatch) Errors() []*openflow.ErrorMsg             { return nil }
func (w countWatch) Close()                                   {}

// resetPeakRSS restarts the kernel's VmHWM count for this process.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatusKB reads one "Name: N kB" line of /proc/self/status.
func procStatusKB(name string) int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

func (c *countConn) Begin(ctx context.Context, m openflow.Outgoing) func() (openflow.Message, error) {
	msg, err := c.Request(ctx, m)
	return func() (openflow.Message, error) { return msg, err }
}
