package network

import (
	"fmt"
	"strings"
	"testing"
)

// Each source may hold MaxRulesPerSource rules; the error says which
// source is over.
func TestRuleLimitsPerSource(t *testing.T) {
	rules := func(prefix string, n int) []Rule {
		out := make([]Rule, n)
		for i := range out {
			out[i] = Rule{Name: fmt.Sprintf("%s%d", prefix, i), Network: "blue", Action: "deny"}
		}
		return out
	}
	nets := []Network{{Name: "blue", VLAN: 10}}
	full := Spec{Networks: nets, ACLs: rules("f", MaxRulesPerSource)}
	merged, err := Merge(full, Spec{ACLs: rules("a", MaxRulesPerSource)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(merged)
	if err != nil {
		t.Fatalf("both sources full: %v", err)
	}
	last := p.Rules()[len(p.Rules())-1]
	if !last.FromAPI || last.Index != MaxRulesPerSource-1 || p.Rules()[0].FromAPI || p.Rules()[0].Index != 0 {
		t.Fatalf("first %+v, last %+v", p.Rules()[0].Name, last.Name)
	}
	over, _ := Merge(full, Spec{ACLs: rules("a", MaxRulesPerSource+1)})
	if _, err := Compile(over); err == nil || !strings.Contains(err.Error(), "through the API; at most") {
		t.Fatalf("API over: %v", err)
	}
	if _, err := Compile(Spec{Networks: nets, ACLs: rules("f", MaxRulesPerSource+1)}); err == nil || !strings.Contains(err.Error(), "in the config file; at most") {
		t.Fatalf("file over: %v", err)
	}
}
