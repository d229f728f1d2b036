package l2

import (
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
)

// fakeCtx records declarations the way the controller would carry them out.
type fakeCtx struct {
	flows map[string][]flow.Flow // key -> flows
	outs  []apps.PacketOut
}

func newCtx() *fakeCtx { return &fakeCtx{flows: map[string][]flow.Flow{}} }

func (c *fakeCtx) Set(dpid uint64, key string, flows ...flow.Flow) { c.flows[key] = flows }
func (c *fakeCtx) Delete(dpid uint64, key string)                  { delete(c.flows, key) }
func (c *fakeCtx) PacketOut(po apps.PacketOut)                     { c.outs = append(c.outs, po) }
func (c *fakeCtx) Now() time.Time                                  { return time.Unix(0, 0) }
func (c *fakeCtx) Log() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func frame(dst, src string) []byte {
	d, _ := flow.ParseMAC(dst)
	s, _ := flow.ParseMAC(src)
	return append(append(append([]byte(nil), d[:]...), s[:]...), 0x08, 0x00, 0x45)
}

func (c *fakeCtx) text() string {
	var lines []string
	for _, fs := range c.flows {
		for _, f := range fs {
			lines = append(lines, f.String())
		}
	}
	return strings.Join(sortStrings(lines), "\n")
}

func sortStrings(s []string) []string { sort.Strings(s); return s }

func TestLearnDeclaresTwoFlowsAndResubmits(t *testing.T) {
	a, ctx := New(0), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	want := "table=0, priority=100,in_port=3,dl_src=02:00:00:00:00:0a actions=goto_table:1\n" +
		"table=1, priority=100,dl_dst=02:00:00:00:00:0a actions=output:3"
	if got := ctx.text(); got != want {
		t.Fatalf("flows:\n%s\nwant:\n%s", got, want)
	}
	if len(ctx.outs) != 1 || ctx.outs[0].Actions[0] != flow.ToTable() || ctx.outs[0].InPort != 3 {
		t.Fatalf("packet-outs %+v, want one output:TABLE from port 3", ctx.outs)
	}
}

func TestMoveReplacesTheFlows(t *testing.T) {
	a, ctx := New(0), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	if got := ctx.text(); !strings.Contains(got, "in_port=4") || strings.Contains(got, "in_port=3") {
		t.Fatalf("after the move:\n%s", got)
	}
}

func TestGroupSourcesAreNotLearned(t *testing.T) {
	a, ctx := New(0), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01")})
	if len(ctx.flows) != 0 {
		t.Fatalf("learned a multicast source: %s", ctx.text())
	}
	// Delivered by flooding, not resubmitted (which would loop back to Loom).
	if len(ctx.outs) != 1 || ctx.outs[0].Actions[0] != flow.Flood() {
		t.Fatalf("packet-outs %+v, want one FLOOD", ctx.outs)
	}
}

func TestFullTableFloodsWithoutLearning(t *testing.T) {
	a, ctx := New(1), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")})
	if len(ctx.flows) != 1 {
		t.Fatalf("%d MACs declared with max_macs=1", len(ctx.flows))
	}
	if last := ctx.outs[len(ctx.outs)-1]; last.Actions[0] != flow.Flood() {
		t.Fatalf("over-limit packet sent with %v, want FLOOD", last.Actions)
	}
	// A known MAC may still move when the table is full.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	if !strings.Contains(ctx.text(), "in_port=5") {
		t.Fatalf("known MAC could not move in a full table:\n%s", ctx.text())
	}
}

func TestPortDownAndSwitchUpForget(t *testing.T) {
	a, ctx := New(0), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")})
	a.PortChanged(ctx, 1, apps.PortModified, apps.Port{No: 1, Up: false})
	if _, ok := a.Lookup(1, flow.MAC{2, 0, 0, 0, 0, 1}); ok || len(ctx.flows) != 1 {
		t.Fatalf("MAC behind the down port kept: %s", ctx.text())
	}
	// Reconnect with port 2 gone: its MAC goes too.
	a.SwitchUp(ctx, apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Up: true}}})
	if len(ctx.flows) != 0 {
		t.Fatalf("MAC behind a vanished port kept across reconnect: %s", ctx.text())
	}
}

func TestShortFramesAreIgnored(t *testing.T) {
	a, ctx := New(0), newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: []byte{1, 2, 3}})
	if len(ctx.flows)+len(ctx.outs) != 0 {
		t.Fatal("acted on a 3-byte frame")
	}
}
