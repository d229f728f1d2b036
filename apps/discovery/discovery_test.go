package discovery

import (
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/topology"
)

// probeIn is the packet-in of a probe sent from (fromDPID, fromPort)
// arriving at (dpid, port).
func probeIn(a *App, at time.Time, fromDPID uint64, fromPort uint32, dpid uint64, port uint32) apps.PacketIn {
	return apps.PacketIn{DPID: dpid, InPort: port, Data: buildFrame(a.key, [6]byte{2}, fromDPID, fromPort, at.UnixNano())}
}

// A genuine probe relayed one way (a host copying what it hears on one
// port into another) makes no link; probes crossing both ways do.
func TestLinkNeedsBothDirections(t *testing.T) {
	top := topology.New()
	a := New(top, time.Second)
	ctx := apptest.New()
	a.PacketIn(ctx, probeIn(a, ctx.T, 0xa1, 1, 0xc1, 5)) // relayed: 0xa1:1's probe into 0xc1:5
	ctx.T = ctx.T.Add(500 * time.Millisecond)
	a.PacketIn(ctx, probeIn(a, ctx.T, 0xa1, 1, 0xc1, 5)) // and again
	if l := top.Snapshot().Links; len(l) != 0 {
		t.Fatalf("a one-way probe made links %+v", l)
	}
	a.PacketIn(ctx, probeIn(a, ctx.T, 0xc1, 5, 0xa1, 1)) // the other way
	want := topology.NewLink(topology.Endpoint{DPID: 0xa1, Port: 1}, topology.Endpoint{DPID: 0xc1, Port: 5})
	if l := top.Snapshot().Links; len(l) != 1 || l[0] != want {
		t.Fatalf("links %+v after probes both ways, want %v", l, want)
	}
}

// The two directions must fall in one window: a reverse probe long after
// the first direction was heard makes no link.
func TestDirectionsOutsideTheWindowMakeNoLink(t *testing.T) {
	top := topology.New()
	a := New(top, time.Second)
	ctx := apptest.New()
	a.PacketIn(ctx, probeIn(a, ctx.T, 0xa1, 1, 0xc1, 5))
	ctx.T = ctx.T.Add(10 * time.Second)
	a.PacketIn(ctx, probeIn(a, ctx.T, 0xc1, 5, 0xa1, 1))
	if l := top.Snapshot().Links; len(l) != 0 {
		t.Fatalf("directions 10 s apart made links %+v", l)
	}
}
