package l2

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

type fakeCtx = apptest.Ctx

func newCtx() *fakeCtx { return apptest.New() }

func frame(dst, src string) []byte {
	d, _ := flow.ParseMAC(dst)
	s, _ := flow.ParseMAC(src)
	return append(append(append([]byte(nil), d[:]...), s[:]...), 0x08, 0x00, 0x45)
}

func sortStrings(s []string) []string { sort.Strings(s); return s }

func TestLearnDeclaresTwoFlowsAndResubmits(t *testing.T) {
	a, ctx := New(Options{}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	want := "table=0, priority=100,in_port=3,dl_src=02:00:00:00:00:0a actions=goto_table:1\n" +
		"table=1, priority=100,dl_dst=02:00:00:00:00:0a actions=output:3"
	if got := ctx.Text(); got != want {
		t.Fatalf("flows:\n%s\nwant:\n%s", got, want)
	}
	if len(ctx.Outs) != 1 || ctx.Outs[0].Actions[0] != flow.ToTable() || ctx.Outs[0].InPort != 3 {
		t.Fatalf("packet-outs %+v, want one output:TABLE from port 3", ctx.Outs)
	}
}

func TestOneFrameNeverMovesAMAC(t *testing.T) {
	a, ctx := New(Options{HoldDown: 10 * time.Second}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	outs := len(ctx.Outs)
	// The same MAC from another port while port 3 is up: held down, and
	// the frame is not delivered.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if got := ctx.Text(); !strings.Contains(got, "in_port=3") || strings.Contains(got, "in_port=4") {
		t.Fatalf("one frame moved the MAC:\n%s", got)
	}
	if len(ctx.Outs) != outs {
		t.Fatal("a held-down frame was delivered")
	}
	// Still there after most of the hold-down: still not moved.
	ctx.T = ctx.T.Add(9 * time.Second)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if strings.Contains(ctx.Text(), "in_port=4") {
		t.Fatal("moved before the hold-down ended")
	}
	// Seen there for the whole hold-down: a real move.
	ctx.T = ctx.T.Add(2 * time.Second)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if got := ctx.Text(); !strings.Contains(got, "in_port=4") || strings.Contains(got, "in_port=3") {
		t.Fatalf("after the hold-down:\n%s", got)
	}
}

func TestMoveFromADownPortIsImmediate(t *testing.T) {
	a, ctx := New(Options{}), newCtx()
	a.SwitchUp(ctx, apps.Switch{DPID: 1, Ports: []apps.Port{{No: 3, Up: true}, {No: 4, Up: true}}})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	a.setDown(1, 3, true) // as a port-status would, without forgetting (a flap)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if got := ctx.Text(); !strings.Contains(got, "in_port=4") {
		t.Fatalf("MAC did not move off a down port:\n%s", got)
	}
}

func TestVMPortMaySendOnlyAsItsOwnMAC(t *testing.T) {
	top := topology.New()
	top.SetHypervisors([]topology.Hypervisor{{Name: "hv"}})
	top.SwitchConnected(1, "unix:/x.sock", []topology.OFPort{{No: 5, Name: "vm-port", Up: true}})
	top.OVSDBState("hv", "unix:/x", &ovsdb.Hypervisor{Bridges: []ovsdb.Bridge{{Name: "br", DPID: 1,
		Ports: []ovsdb.Port{{Name: "vm-port", AttachedMAC: "02:00:00:00:00:05"}}}}}, nil)
	a, ctx := New(Options{Topology: top}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if len(ctx.Outs) != 0 || ctx.Flows["mac/02:00:00:00:00:0a"] != nil {
		t.Fatalf("a spoofed source was learned or delivered: %s", ctx.Text())
	}
	// And the switch drops the port's other sources from now on; its own
	// MAC still comes to Loom to be learned.
	want := "table=0, priority=40,in_port=5 actions=drop\n" +
		"table=0, priority=60,in_port=5,dl_src=02:00:00:00:00:05 actions=CONTROLLER:65535"
	if got := ctx.Text(); got != want {
		t.Fatalf("flows:\n%s\nwant:\n%s", got, want)
	}
	arp := frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:05")[:12]
	arp = append(arp, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 5, 172, 16, 123, 105, 0, 0, 0, 0, 0, 0, 172, 16, 123, 1)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: arp})
	if ctx.Flows["mac/02:00:00:00:00:05"] == nil {
		t.Fatalf("the VM's own MAC was not learned: %s", ctx.Text())
	}
	hosts := top.Snapshot().Hosts
	if len(hosts) != 1 || hosts[0].MAC != "02:00:00:00:00:05" || hosts[0].Port != 5 || len(hosts[0].IPs) != 1 || hosts[0].IPs[0] != "172.16.123.105" {
		t.Fatalf("hosts %+v", hosts)
	}
}

func TestGroupSourcesAreNotLearned(t *testing.T) {
	a, ctx := New(Options{}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01")})
	if len(ctx.Flows) != 0 {
		t.Fatalf("learned a multicast source: %s", ctx.Text())
	}
	// Delivered by flooding, not resubmitted (which would loop back to Loom).
	if len(ctx.Outs) != 1 || ctx.Outs[0].Actions[0] != flow.Flood() {
		t.Fatalf("packet-outs %+v, want one FLOOD", ctx.Outs)
	}
}

func TestFullTableFloodsWithoutLearning(t *testing.T) {
	a, ctx := New(Options{MaxMACs: 1}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")})
	if ctx.Flows["mac/02:00:00:00:00:02"] != nil {
		t.Fatalf("a MAC past max_macs=1 was learned:\n%s", ctx.Text())
	}
	if last := ctx.Outs[len(ctx.Outs)-1]; last.Actions[0] != flow.Flood() {
		t.Fatalf("over-limit packet sent with %v, want FLOOD", last.Actions)
	}
	// The switch forwards its next frames the same way, without learning
	// and without a packet-in each.
	if got := apptest.Text(map[string][]flow.Flow{"": ctx.Flows["guard/2/02:00:00:00:00:02"]}); got != "table=0, priority=50,in_port=2,dl_src=02:00:00:00:00:02 actions=goto_table:1" {
		t.Fatalf("over-limit source declared as %q", got)
	}
	// A known MAC may still move when the table is full.
	a.setDown(1, 1, true)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	if !strings.Contains(ctx.Text(), "in_port=5") {
		t.Fatalf("known MAC could not move in a full table:\n%s", ctx.Text())
	}
}

func TestPortDownAndSwitchUpForget(t *testing.T) {
	a, ctx := New(Options{}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")})
	a.PortChanged(ctx, 1, apps.PortModified, apps.Port{No: 1, Up: false})
	if _, ok := a.Lookup(1, flow.MAC{2, 0, 0, 0, 0, 1}); ok || len(ctx.Flows) != 1 {
		t.Fatalf("MAC behind the down port kept: %s", ctx.Text())
	}
	// Reconnect with port 2 gone: its MAC goes too.
	a.SwitchUp(ctx, apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Up: true}}})
	if len(ctx.Flows) != 0 {
		t.Fatalf("MAC behind a vanished port kept across reconnect: %s", ctx.Text())
	}
}

func TestShortFramesAreIgnored(t *testing.T) {
	a, ctx := New(Options{}), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: []byte{1, 2, 3}})
	if len(ctx.Flows)+len(ctx.Outs) != 0 {
		t.Fatal("acted on a 3-byte frame")
	}
}

// discardCtx is an apps.Context that keeps nothing, for benchmarks.
type discardCtx struct{ now time.Time }

func (discardCtx) Set(uint64, string, ...flow.Flow) {}
func (discardCtx) Delete(uint64, string)            {}
func (discardCtx) PacketOut(apps.PacketOut)         {}
func (discardCtx) RefreshSwitch(uint64)             {}
func (c discardCtx) Now() time.Time                 { return c.now }
func (discardCtx) Log() *logrus.Entry               { return logrus.NewEntry(logrus.New()) }

// BenchmarkPacketInKnownHost is the learning switch's share of the hot
// path: a packet-in from a host it already knows on that port.
func BenchmarkPacketInKnownHost(b *testing.B) {
	a := New(Options{})
	ctx := discardCtx{now: time.Unix(1000, 0)}
	f := frame("02:00:00:00:00:0b", "02:00:00:00:00:0a")
	pkt := apps.PacketIn{DPID: 1, InPort: 3, Data: f}
	a.PacketIn(ctx, pkt)
	b.ReportAllocs()
	for b.Loop() {
		a.PacketIn(ctx, pkt)
	}
}

// BenchmarkPacketInNewHost learns a new host each time (declares two flows).
func BenchmarkPacketInNewHost(b *testing.B) {
	a := New(Options{MaxMACs: 1 << 20})
	ctx := discardCtx{now: time.Unix(1000, 0)}
	f := frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f[9], f[10], f[11] = byte(i>>16), byte(i>>8), byte(i)
		a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: f})
		i++
	}
}
