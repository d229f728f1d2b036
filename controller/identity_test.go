package controller

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

// A datapath id two OVSDBs list is a health condition naming both, and
// the health stays short however many there are.
func TestConflictsAreHealthConditions(t *testing.T) {
	top := topology.New()
	log, _ := test.NewNullLogger()
	c, err := New(Config{Log: log, Topology: top})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	view := func(dpids ...uint64) *ovsdb.Hypervisor {
		v := &ovsdb.Hypervisor{}
		for _, d := range dpids {
			v.Bridges = append(v.Bridges, ovsdb.Bridge{Name: fmt.Sprintf("br%x", d), DPID: d})
		}
		return v
	}
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", view(0xc1), nil)
	top.OVSDBState("rogue", "tcp:192.0.2.66:6640", view(0xc1), nil)
	var found bool
	for _, cond := range c.Health() {
		if cond.Subject == "0x00000000000000c1" && strings.Contains(cond.Message, "kvm01 (first, kept) and rogue (ignored)") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no condition names the conflict: %+v", c.Health())
	}
	var many []uint64
	for d := uint64(1); d <= 100; d++ {
		many = append(many, d)
	}
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", view(many...), nil)
	top.OVSDBState("rogue", "tcp:192.0.2.66:6640", view(many...), nil)
	if n := len(c.Health()); n > maxConflictsListed+1 {
		t.Fatalf("%d conditions for 100 conflicts", n)
	}
}
