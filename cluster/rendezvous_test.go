package cluster

import (
	"fmt"
	"testing"
)

// Over a thousand switches and three instances each gets its third within
// 10%, and when one leaves only its own switches move.
func TestPreferredSpreadsAndMovesOnlyTheLeaversSwitches(t *testing.T) {
	names := []string{"a", "b", "c"}
	count := map[string]int{}
	before := map[uint64]string{}
	for d := uint64(1); d <= 1000; d++ {
		p := preferred(d, names)
		count[p]++
		before[d] = p
	}
	for _, n := range names {
		if c := count[n]; c < 300 || c > 367 {
			t.Errorf("%s prefers %d of 1000 switches, want 333±10%%: %v", n, c, count)
		}
	}
	for d := uint64(1); d <= 1000; d++ {
		after := preferred(d, []string{"a", "c"})
		if before[d] != "b" && after != before[d] {
			t.Fatalf("switch %d moved from %s to %s though %s stayed", d, before[d], after, before[d])
		}
	}
	if got := preferred(7, nil); got != "" {
		t.Fatalf("no instance: %q", got)
	}
	if fmt.Sprint(preferred(7, []string{"x"})) != "x" {
		t.Fatal("one instance is not preferred")
	}
}
