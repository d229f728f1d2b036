package policy

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/network"
)

func TestPlanWarnsOfWhatDeservesASecondLook(t *testing.T) {
	running := network.Spec{Networks: []network.Network{{Name: "web", VLAN: 10}, {Name: "db", VLAN: 20}}}
	file := network.Spec{
		Networks: []network.Network{{Name: "web", VLAN: 10, Ports: []string{"p-web*", "p-typo"}}, {Name: "new", VLAN: 30}},
		Trunks:   []network.Trunk{{Port: "uplink9", VLANs: []int{10}}},
		ACLs:     []network.Rule{{Name: "r", Network: "web", InPort: "p-web1", Action: "deny"}},
	}
	plan := &Plan{Switches: []SwitchPlan{
		{DPID: 1, Remove: []string{"a", "b"}, Flows: 4}, // half of it: warned
		{DPID: 2, Remove: []string{"a"}, Flows: 4},      // a quarter: not
	}}
	plan.NetworksAdded, plan.NetworksRemoved = networkChanges(running.Networks, file.Networks)
	if strings.Join(plan.NetworksAdded, ",") != "new" || strings.Join(plan.NetworksRemoved, ",") != "db" {
		t.Fatalf("added %v removed %v", plan.NetworksAdded, plan.NetworksRemoved)
	}
	got := strings.Join(warnings(plan, file, running, map[string]bool{"p-web1": true, "eth0": true}), "\n")
	for _, want := range []string{
		`network "db" (VLAN 20) goes`,
		"switch 0x0000000000000001 loses 2 of its 4 policy flows",
		`networks[0].ports[1]: "p-typo" (network "web") matches no port of a connected switch`,
		`trunks[0].port: "uplink9" matches no port`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"0x0000000000000002", `"p-web*"`, "acls[0]"} {
		if strings.Contains(got, not) {
			t.Errorf("warnings name %s, which is fine:\n%s", not, got)
		}
	}
}
