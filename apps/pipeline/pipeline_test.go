package pipeline

import (
	"testing"

	"github.com/loomsdn/loom/flow"
)

func TestStagesAreNamedAndOwned(t *testing.T) {
	names := map[string]bool{}
	for id, s := range Stages() {
		if s.Name == "" || s.Owner == "" {
			t.Errorf("table %d: name %q owner %q, want both", id, s.Name, s.Owner)
		}
		if names[s.Name] {
			t.Errorf("table %d: name %q used twice", id, s.Name)
		}
		names[s.Name] = true
	}
}

func TestNextFollowsTheOrder(t *testing.T) {
	for id := range len(Stages()) - 1 {
		if got := Next(uint8(id)); int(got) != id+1 {
			t.Errorf("Next(%d) = %d", id, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Next of the last table returned instead of refusing")
		}
	}()
	Next(uint8(len(Stages()) - 1))
}

func TestTableTakesItsIdentityFromTheRegistry(t *testing.T) {
	tbl := Table(ACL, flow.MissNext, flow.FieldVLAN)
	if tbl.ID != ACL || tbl.Name != "acl" || tbl.Owner != "acl" || tbl.Next != ACLRules || tbl.Match != flow.FieldVLAN {
		t.Fatalf("Table(ACL) = %+v", tbl)
	}
	if drop := Table(Classify, flow.MissDrop, 0); drop.Next != 0 {
		t.Fatalf("a dropping table continues at %d", drop.Next)
	}
}

func TestBandsOfDifferentAppsDoNotOverlapUnlessDisjoint(t *testing.T) {
	for i, a := range Bands {
		if a.Low > a.High || a.Low == 0 {
			t.Errorf("%s in table %d: band %d..%d (0 is the miss flow's)", a.App, a.Table, a.Low, a.High)
		}
		if int(a.Table) >= len(Stages()) {
			t.Errorf("%s: band in table %d, which the pipeline does not have", a.App, a.Table)
		}
		for _, b := range Bands[i+1:] {
			if a.Table != b.Table || a.App == b.App || a.High < b.Low || b.High < a.Low {
				continue
			}
			if a.Disjoint == "" || b.Disjoint == "" {
				t.Errorf("table %d: %s %d..%d and %s %d..%d overlap, and neither says why their flows are disjoint",
					a.Table, a.App, a.Low, a.High, b.App, b.Low, b.High)
			}
		}
	}
}

func TestAppIDsAreUnique(t *testing.T) {
	seen := map[flow.AppID]string{}
	for name, id := range appIDs {
		if other, ok := seen[id]; ok {
			t.Errorf("apps %s and %s share cookie id %d", other, name, id)
		}
		seen[id] = name
	}
}

func TestACLRulesFitTheirBand(t *testing.T) {
	if ACLLastAPIRule <= ACLNeighbour || ACLFirstRule >= ACLEstablished || ACLFirstAPIRule >= ACLLastRule {
		t.Fatalf("rules %d..%d and %d..%d run into each other or the fixed priorities", ACLLastRule, ACLFirstRule, ACLLastAPIRule, ACLFirstAPIRule)
	}
}
