package acl

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/network"
)

func intp(v int) *int { return &v }

func compile(t *testing.T, s network.Spec) *network.Policy {
	t.Helper()
	p, err := network.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var sw = apps.Switch{DPID: 1, Ports: []apps.Port{{No: 1, Name: "a"}, {No: 2, Name: "b"}, {No: 3, Name: "web-1"}}}

func TestStatelessRulesInOrderThenDefault(t *testing.T) {
	p := compile(t, network.Spec{
		Networks: []network.Network{{Name: "blue", VLAN: 10, Default: "deny"}},
		ACLs: []network.Rule{
			{Name: "no-ping", Network: "blue", Proto: "icmp", ICMPType: intp(8), Action: "deny"},
			{Name: "web", Network: "blue", InPort: "web-*", Proto: "tcp", Dst: "172.16.0.0/16", DstPort: "8080-8081", Action: "allow"},
		},
	})
	got := apptest.Text(Compute(p, sw))
	want := strings.Join([]string{
		"table=2, priority=1,dl_vlan=10 actions=drop",
		"table=2, priority=3,dl_type=0x0806,dl_vlan=10 actions=goto_table:3",
		"table=2, priority=3,dl_type=0x86dd,dl_vlan=10,nw_proto=58,icmpv6_type=133 actions=goto_table:3",
		"table=2, priority=3,dl_type=0x86dd,dl_vlan=10,nw_proto=58,icmpv6_type=134 actions=goto_table:3",
		"table=2, priority=3,dl_type=0x86dd,dl_vlan=10,nw_proto=58,icmpv6_type=135 actions=goto_table:3",
		"table=2, priority=3,dl_type=0x86dd,dl_vlan=10,nw_proto=58,icmpv6_type=136 actions=goto_table:3",
		"table=2, priority=59999,in_port=3,dl_type=0x0800,dl_vlan=10,nw_proto=6,nw_dst=172.16.0.0/16,tp_dst=0x1f90/0xfffe actions=goto_table:3",
		"table=2, priority=60000,dl_type=0x0800,dl_vlan=10,nw_proto=1,icmp_type=8 actions=drop",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestStatefulTracksCommitsAndPassesEstablished(t *testing.T) {
	p := compile(t, network.Spec{
		Networks: []network.Network{{Name: "red", VLAN: 20, Default: "deny", Stateful: true}},
		ACLs:     []network.Rule{{Name: "a-to-b", Network: "red", Src: "10.0.0.1", Dst: "10.0.0.2", Proto: "tcp", Action: "allow"}},
	})
	got := apptest.Text(Compute(p, sw))
	for _, line := range []string{
		"table=1, priority=100,dl_type=0x0800,dl_vlan=20 actions=ct(table=2,zone=20)",
		"table=1, priority=100,dl_type=0x86dd,dl_vlan=20 actions=ct(table=2,zone=20)",
		"table=2, priority=65100,dl_vlan=20,ct_state=+inv+trk actions=drop",
		"table=2, priority=65000,dl_vlan=20,ct_state=+est+trk actions=goto_table:3",
		"table=2, priority=65000,dl_vlan=20,ct_state=+rel+trk actions=goto_table:3",
		"table=2, priority=60000,dl_type=0x0800,dl_vlan=20,nw_proto=6,nw_src=10.0.0.1,nw_dst=10.0.0.2 actions=ct(commit,zone=20),goto_table:3",
	} {
		if !strings.Contains(got+"\n", line+"\n") {
			t.Errorf("missing %q in\n%s", line, got)
		}
	}
}

// A rule on a port this switch does not have declares nothing here.
func TestPortRuleOnlyWhereThePortIs(t *testing.T) {
	p := compile(t, network.Spec{
		Networks: []network.Network{{Name: "blue", VLAN: 10}},
		ACLs:     []network.Rule{{Name: "r", Network: "blue", InPort: "elsewhere", Action: "deny"}},
	})
	if decl := Compute(p, sw); len(decl) != 0 {
		t.Fatalf("declared %v", decl)
	}
	a, ctx := New(network.NewHolder(p)), apptest.New()
	a.SwitchUp(ctx, sw)
	if len(ctx.Flows) != 0 {
		t.Fatalf("declared %v", ctx.Flows)
	}
}

// Each source numbers its own rules: a rule added to the config file
// leaves every flow of the API's rules as it was, and the API's rules
// still apply after all of the file's.
func TestAddingAFileRuleRenumbersNoAPIRule(t *testing.T) {
	nets := []network.Network{{Name: "blue", VLAN: 10}}
	api := network.Spec{ACLs: []network.Rule{{Name: "api-ssh", Network: "blue", Proto: "tcp", DstPort: "22", Action: "deny"}}}
	merged := func(file ...network.Rule) *network.Policy {
		spec, err := network.Merge(network.Spec{Networks: nets, ACLs: file}, api)
		if err != nil {
			t.Fatal(err)
		}
		return compile(t, spec)
	}
	before := Compute(merged(network.Rule{Name: "web", Network: "blue", Proto: "tcp", DstPort: "80", Action: "allow"}), sw)
	after := Compute(merged(network.Rule{Name: "web", Network: "blue", Proto: "tcp", DstPort: "80", Action: "allow"},
		network.Rule{Name: "dns", Network: "blue", Proto: "udp", DstPort: "53", Action: "allow"}), sw)
	if a, b := apptest.Text(map[string][]flow.Flow{"k": before[RuleKey("api-ssh")]}), apptest.Text(map[string][]flow.Flow{"k": after[RuleKey("api-ssh")]}); a != b || a == "" {
		t.Fatalf("the API's rule changed with a file rule added:\n%s\nthen:\n%s", a, b)
	}
	for _, f := range after[RuleKey("dns")] {
		for _, g := range after[RuleKey("api-ssh")] {
			if f.Priority <= g.Priority {
				t.Fatalf("the file's new rule (priority %d) is not above the API's (%d)", f.Priority, g.Priority)
			}
		}
	}
}
