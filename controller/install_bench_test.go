package controller

import (
	"testing"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/apps/static"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/fakeswitch"
)

// BenchmarkConnectInstall100k: a switch connects and Loom installs 100k
// declared flows into the in-memory switch (handshake, dump, diff, one
// bundle). The in-process peer costs CPU too; the real-OVS comparison
// with ovs-ofctl is BenchmarkFlowInstall100k in package integration.
func BenchmarkConnectInstall100k(b *testing.B) {
	const n = 100_000
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
