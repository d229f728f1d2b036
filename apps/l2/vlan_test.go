package l2

import (
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/apps/vlan"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
)

// vlanRig is l2 behind the real classifier, in loomd's tables.
func vlanRig(t *testing.T, s network.Spec) (*App, *vlan.App, *network.Holder, apps.Switch) {
	t.Helper()
	p, err := network.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	h := network.NewHolder(p)
	vl := vlan.New(h, nil)
	sw := apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Name: "b1", Up: true}, {No: 2, Name: "b2", Up: true}, {No: 3, Name: "trunk", Up: true}}}
	vl.SwitchUp(apptest.New(), sw)
	return New(Options{VLANs: vl, Learn: pipeline.L2Learn, Forward: pipeline.L2Forward}), vl, h, sw
}

var blueAndTrunk = network.Spec{
	Networks: []network.Network{{Name: "blue", VLAN: 10, Ports: []string{"b*"}}, {Name: "red", VLAN: 20}},
	Trunks:   []network.Trunk{{Port: "trunk", VLANs: []int{10, 20}}},
}

func TestLearnPerVLANAndResubmitAsItEntered(t *testing.T) {
	a, _, _, _ := vlanRig(t, blueAndTrunk)
	ctx := newCtx()
	// OVS hands the frame over as the pipeline saw it: tagged by the classifier.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a"), 10)})
	want := "table=3, priority=100,in_port=1,dl_src=02:00:00:00:00:0a,dl_vlan=10 actions=goto_table:4\n" +
		"table=4, priority=100,dl_dst=02:00:00:00:00:0a,dl_vlan=10 actions=pop_vlan,output:1"
	if got := ctx.Text(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if len(ctx.Outs) != 1 {
		t.Fatalf("%d packet-outs", len(ctx.Outs))
	}
	if _, tagged := frameVLAN(ctx.Outs[0].Data); tagged {
		t.Fatal("resubmitted an access port's frame with the classifier's tag: the classifier would drop it")
	}
	// Same MAC from the trunk in VLAN 20 is another host: learned apart, delivered tagged.
	ctx2 := newCtx()
	a.PacketIn(ctx2, apps.PacketIn{DPID: 1, InPort: 3, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a"), 20)})
	want = "table=3, priority=100,in_port=3,dl_src=02:00:00:00:00:0a,dl_vlan=20 actions=goto_table:4\n" +
		"table=4, priority=100,dl_dst=02:00:00:00:00:0a,dl_vlan=20 actions=output:3"
	if got := ctx2.Text(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if vid, tagged := frameVLAN(ctx2.Outs[0].Data); !tagged || vid != 20 {
		t.Fatal("a trunk's frame was resubmitted without its tag")
	}
}

// Should a switch hand over the frame without the pushed tag, the port's
// access VLAN is the one it was classified into.
func TestUntaggedPacketInTakesThePortsVLAN(t *testing.T) {
	a, _, _, _ := vlanRig(t, blueAndTrunk)
	ctx := newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0b")})
	if _, ok := ctx.Flows["mac/10/02:00:00:00:00:0b"]; !ok {
		t.Fatalf("not learned in VLAN 10: %v", ctx.Flows)
	}
	// A VLAN the port does not carry is not learned at all.
	ctx = newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0c"), 20)})
	if len(ctx.Flows) != 0 || len(ctx.Outs) != 0 {
		t.Fatalf("learned or sent a frame its port may not carry: %v", ctx.Flows)
	}
}

// Moving a port to another network forgets what was learned on it in the
// old one, so no frame of the old network still reaches it.
func TestRefreshForgetsMACsOfAPortThatLeftTheVLAN(t *testing.T) {
	a, vl, h, sw := vlanRig(t, blueAndTrunk)
	ctx := newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0b"), 10)})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a"), 10)})
	moved := blueAndTrunk
	moved.Networks = []network.Network{{Name: "blue", VLAN: 10, Ports: []string{"b1"}}, {Name: "red", VLAN: 20, Ports: []string{"b2"}}}
	p, err := network.Compile(moved)
	if err != nil {
		t.Fatal(err)
	}
	h.Set(p)
	vl.Refresh(apptest.New(), sw)
	a.Refresh(ctx, sw)
	if _, ok := ctx.Flows["mac/10/02:00:00:00:00:0b"]; ok {
		t.Fatal("b2's MAC still forwarded in VLAN 10 after b2 moved to VLAN 20")
	}
	if _, ok := ctx.Flows["mac/10/02:00:00:00:00:0a"]; !ok {
		t.Fatal("b1's MAC was forgotten though b1 stayed")
	}
}

func TestRestoreReadsVLANKeys(t *testing.T) {
	a, _, _, _ := vlanRig(t, blueAndTrunk)
	ctx := newCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a"), 10)})
	b, _, _, _ := vlanRig(t, blueAndTrunk)
	for k, fs := range ctx.Flows {
		b.Restore(1, k, fs)
	}
	if got := b.tables[1][vmac{vid: 10, mac: mac(t, "02:00:00:00:00:0a")}]; got != 1 {
		t.Fatalf("restored port %d", got)
	}
}

func mac(t *testing.T, s string) flow.MAC {
	t.Helper()
	m, err := flow.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// In loomd's pipeline a refusal lands in the learn table (3) and forwards
// to table 4, below the learned flows and the tunnel bypass, and only with
// fields the learn table allows.
func TestRefusalsInThePipeline(t *testing.T) {
	p, err := network.Compile(blueAndTrunk)
	if err != nil {
		t.Fatal(err)
	}
	vl := vlan.New(network.NewHolder(p), nil)
	sw := apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Name: "b1", Up: true}, {No: 2, Name: "b2", Up: true}, {No: 3, Name: "trunk", Up: true}}}
	vl.SwitchUp(apptest.New(), sw)
	a := New(Options{VLANs: vl, Learn: pipeline.L2Learn, Forward: pipeline.L2Forward, MaxMACs: 1})
	ctx := newCtx()
	a.SwitchUp(ctx, sw)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a"), 10)})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 2, Data: withTag(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0b"), 10)})
	if got := apptest.Text(map[string][]flow.Flow{"": ctx.Flows["guard/2/02:00:00:00:00:0b"]}); got != "table=3, priority=50,in_port=2,dl_src=02:00:00:00:00:0b actions=goto_table:4" {
		t.Fatalf("pass flow %q", got)
	}
	g := a.guards[1].ports[2]
	g.block = &portBlock{own: mac(t, "02:00:00:00:00:0b"), hasOwn: true}
	want := "table=3, priority=40,in_port=2 actions=drop\n" +
		"table=3, priority=60,in_port=2,dl_src=02:00:00:00:00:0b actions=CONTROLLER:65535"
	blocks := a.blockFlows(2, g.block)
	if got := apptest.Text(map[string][]flow.Flow{"": blocks}); got != want {
		t.Fatalf("block flows\n%s\nwant\n%s", got, want)
	}
	tables := flow.Pipeline{}
	for _, tb := range a.Tables() {
		tables[tb.ID] = tb
	}
	for _, f := range append(blocks, ctx.Flows["guard/2/02:00:00:00:00:0b"]...) {
		if err := tables.Check(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if f.Priority >= pipeline.L2MAC || f.Priority >= 90 { // the tunnel bypass
			t.Errorf("%s would override a learned MAC or the tunnel bypass", f)
		}
	}
}
