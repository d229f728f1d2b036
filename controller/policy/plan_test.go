package policy

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/flow"
)

func parseFlows(t *testing.T, texts ...string) []flow.Flow {
	t.Helper()
	var out []flow.Flow
	for _, s := range texts {
		f, err := flow.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// Within one declaration key, a flow whose match changed (a rule's
// dst_port) is a change (~), not an add and a remove; an unchanged key is
// nothing; a new or gone key is an add or a remove.
func TestPlanPairsChangesWithinAKey(t *testing.T) {
	var plan SwitchPlan
	plan.diffKey(parseFlows(t, "table=4, priority=500,dl_type=0x0800,nw_proto=6,tp_dst=80 actions=goto_table:5"),
		parseFlows(t, "table=4, priority=500,dl_type=0x0800,nw_proto=6,tp_dst=8080 actions=goto_table:5"))
	plan.diffKey(parseFlows(t, "table=4, priority=400,dl_type=0x0800,nw_proto=17 actions=drop"), parseFlows(t, "table=4, priority=400,dl_type=0x0800,nw_proto=17 actions=drop"))
	plan.diffKey(nil, parseFlows(t, "table=4, priority=300,dl_type=0x0800,nw_proto=1 actions=drop"))
	plan.diffKey(parseFlows(t, "table=4, priority=200,dl_type=0x0806 actions=drop"), nil)
	if len(plan.Change) != 1 || !strings.Contains(plan.Change[0], "tp_dst=80 ") || !strings.Contains(plan.Change[0], "=> ") ||
		!strings.Contains(plan.Change[0], "tp_dst=8080") {
		t.Fatalf("changes %q, want the dst_port change as one", plan.Change)
	}
	if len(plan.Add) != 1 || !strings.Contains(plan.Add[0], "nw_proto=1 ") || len(plan.Remove) != 1 || !strings.Contains(plan.Remove[0], "0x0806") {
		t.Fatalf("adds %q, removes %q", plan.Add, plan.Remove)
	}
}
