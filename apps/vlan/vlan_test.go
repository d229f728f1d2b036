package vlan

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
)

func policy(t *testing.T, s network.Spec) *network.Holder {
	t.Helper()
	p, err := network.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return network.NewHolder(p)
}

var spec = network.Spec{
	Networks: []network.Network{{Name: "blue", VLAN: 10, Ports: []string{"b*"}}, {Name: "red", VLAN: 20, Ports: []string{"r1"}}},
	Trunks:   []network.Trunk{{Port: "trunk", VLANs: []int{10, 20}}},
}

var sw = apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Name: "b1"}, {No: 2, Name: "b2"}, {No: 3, Name: "r1"},
	{No: 4, Name: "trunk"}, {No: 5, Name: "other"}, {No: 0xfffffffe, Name: "br0"}}}

func TestClassifyAndFloodPerNetwork(t *testing.T) {
	a, ctx := New(policy(t, spec), nil), apptest.New()
	a.SwitchUp(ctx, sw)
	want := strings.Join([]string{
		"table=0, priority=100,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1",
		"table=0, priority=100,in_port=2,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1",
		"table=0, priority=100,in_port=3,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4116->vlan_vid,goto_table:1",
		"table=0, priority=100,in_port=4,dl_vlan=10 actions=goto_table:1",
		"table=0, priority=100,in_port=4,dl_vlan=20 actions=goto_table:1",
		"table=0, priority=100,in_port=5,vlan_tci=0x0000/0x1fff actions=goto_table:1",
		"table=4, priority=1,dl_vlan=10 actions=output:4,pop_vlan,output:1,output:2",
		"table=4, priority=1,dl_vlan=20 actions=output:4,pop_vlan,output:3",
		"table=4, priority=1,vlan_tci=0x0000/0x1fff actions=output:5",
	}, "\n")
	if got := ctx.Text(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if acts, ok := mustMode(t, a, 4).Egress(4, 10); !ok || len(acts) != 1 {
		t.Fatalf("trunk egress for VLAN 10: %v %v", acts, ok)
	}
	if _, ok := mustMode(t, a, 3).Egress(3, 10); ok {
		t.Fatal("red's port takes blue's frames")
	}
}

func mustMode(t *testing.T, a *App, port uint32) network.Mode {
	m, ok := a.Mode(1, port)
	if !ok {
		t.Fatalf("no mode for port %d", port)
	}
	return m
}

// Moving a port to another network changes its classification and the two
// networks' floods, and nothing else.
func TestPolicyChangeRedeclaresOnlyWhatMoved(t *testing.T) {
	h := policy(t, spec)
	a, ctx := New(h, nil), apptest.New()
	a.SwitchUp(ctx, sw)
	before := map[string]string{}
	for k, fs := range ctx.Flows {
		before[k] = apptest.Text(map[string]flowList{k: fs})
	}
	moved := spec
	moved.Networks = []network.Network{{Name: "blue", VLAN: 10, Ports: []string{"b1"}}, {Name: "red", VLAN: 20, Ports: []string{"r1", "b2"}}}
	p, err := network.Compile(moved)
	if err != nil {
		t.Fatal(err)
	}
	if plan := a.Plan(p, sw); apptest.Text(plan) == ctx.Text() {
		t.Fatal("the plan shows no change")
	}
	h.Set(p)
	a.Refresh(ctx, sw)
	var changed []string
	for k, fs := range ctx.Flows {
		if before[k] != apptest.Text(map[string]flowList{k: fs}) {
			changed = append(changed, k)
		}
	}
	if got := strings.Join(sorted(changed), " "); got != "flood/10 flood/20 port/2" {
		t.Fatalf("changed keys: %s", got)
	}
}

// A port deleted is withdrawn with its flood membership.
func TestPortDeletedIsWithdrawn(t *testing.T) {
	a, ctx := New(policy(t, spec), nil), apptest.New()
	a.SwitchUp(ctx, sw)
	a.PortChanged(ctx, 1, apps.PortDeleted, apps.Port{No: 3, Name: "r1"})
	if _, ok := ctx.Flows["port/3"]; ok {
		t.Fatal("port/3 still declared")
	}
	if got := apptest.Text(map[string]flowList{"f": ctx.Flows["flood/20"]}); got != "table=4, priority=1,dl_vlan=20 actions=output:4" {
		t.Fatalf("flood/20: %s", got)
	}
}
