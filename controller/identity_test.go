package controller

import (
	"crypto/tls"
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

// A switch holding a datapath id that a hypervisor's OVSDB lists, but
// connected from elsewhere, is a health condition saying why its ports
// are not classified.
func TestAStrangerIsAHealthCondition(t *testing.T) {
	top := topology.New()
	log, _ := test.NewNullLogger()
	c, err := New(Config{Log: log, Topology: top})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	top.SetHypervisors([]topology.Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", &ovsdb.Hypervisor{Bridges: []ovsdb.Bridge{{Name: "vswitch02", DPID: 0xc1}}}, nil)
	top.SwitchConnected(0xc1, "192.0.2.66:40000", nil)
	s := &session{dpid: 0xc1, remote: "192.0.2.66:40000"}
	c.reg.mu.Lock()
	c.reg.sess[0xc1], c.reg.ready[s] = s, true
	c.reg.mu.Unlock()
	var found bool
	for _, cond := range c.Health() {
		if cond.Kind == "switch" && strings.Contains(cond.Subject, "kvm01/vswitch02") && strings.Contains(cond.Message, "connected from 192.0.2.66:40000, not from hypervisor kvm01") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no condition for the stranger: %+v", c.Health())
	}
	// From the hypervisor itself: no condition.
	top.SwitchConnected(0xc1, "192.0.2.10:40000", nil)
	for _, cond := range c.Health() {
		if strings.Contains(cond.Message, "not from hypervisor") {
			t.Fatalf("a switch from its hypervisor is reported: %+v", cond)
		}
	}
}

// An ssl: OVSDB's expected server name is the hypervisor's
// ovsdb_server_name when set, on a copy: other hypervisors keep the
// shared configuration (TLS then checks their endpoint's host).
func TestOVSDBServerNamePerHypervisor(t *testing.T) {
	shared := &tls.Config{MinVersion: tls.VersionTLS12}
	h := &hypervisors{c: &Controller{cfg: Config{OVSDBTLS: shared, OVSDBServerNames: map[string]string{"kvm01": "kvm01.example"}}}}
	if got := h.tlsFor("kvm01"); got.ServerName != "kvm01.example" || got == shared {
		t.Fatalf("kvm01: server name %q (shared config changed: %v)", got.ServerName, got == shared)
	}
	if got := h.tlsFor("kvm02"); got != shared || shared.ServerName != "" {
		t.Fatalf("kvm02 got %+v, want the shared config untouched", got)
	}
	h.c.cfg.OVSDBTLS = nil
	if h.tlsFor("kvm01") != nil {
		t.Fatal("a name without ovsdb_tls made a TLS config")
	}
}
