package network

import (
	"errors"
	"strings"
	"testing"

	"github.com/loomsdn/loom/topology"
)

func twoNetworks() Spec {
	return Spec{
		Networks: []Network{
			{Name: "blue", VLAN: 10, VNI: 5010, Ports: []string{"centos01_port1", "web-*"}, IfaceIDs: []string{"iface-b"}},
			{Name: "red", VLAN: 20, VMs: []string{"vm-r"}, Default: "deny", Stateful: true},
		},
		Trunks: []Trunk{{Port: "trunk*", VLANs: []int{20}, Native: 10}},
	}
}

func intp(v int) *int { return &v }

func TestCompileRefusesWithTheFieldNamed(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Spec)
		path string
		says string
	}{
		{"bad CIDR", func(s *Spec) { s.ACLs = []Rule{{Name: "r", Network: "blue", Src: "10.0.0.300/24", Action: "allow"}} }, "acls[0].src", `rule "r"`},
		{"port 70000", func(s *Spec) {
			s.ACLs = []Rule{{Name: "ok", Network: "blue", Action: "deny"}, {Name: "web", Network: "blue", Proto: "tcp", DstPort: "70000", Action: "allow"}}
		}, "acls[1].dst_port", "1-65535"},
		{"unknown VLAN in a rule", func(s *Spec) { s.ACLs = []Rule{{Name: "r", VLAN: 30, Action: "deny"}} }, "acls[0].vlan", "unknown VLAN"},
		{"unknown VLAN on a trunk", func(s *Spec) { s.Trunks[0].VLANs = []int{10, 99} }, "trunks[0].vlans[1]", "unknown VLAN"},
		{"unknown network", func(s *Spec) { s.ACLs = []Rule{{Name: "r", Network: "green", Action: "deny"}} }, "acls[0].network", "green"},
		{"no action", func(s *Spec) { s.ACLs = []Rule{{Name: "r", Network: "blue"}} }, "acls[0].action", "allow or deny"},
		{"ports without tcp", func(s *Spec) { s.ACLs = []Rule{{Name: "r", Network: "blue", DstPort: "80", Action: "deny"}} }, "acls[0].dst_port", "tcp"},
		{"reversed range", func(s *Spec) {
			s.ACLs = []Rule{{Name: "r", Network: "blue", Proto: "udp", SrcPort: "2000-1000", Action: "deny"}}
		}, "acls[0].src_port", "above"},
		{"mixed families", func(s *Spec) {
			s.ACLs = []Rule{{Name: "r", Network: "blue", Src: "10.0.0.1", Dst: "2001:db8::1", Action: "deny"}}
		}, "acls[0].dst", "IP version"},
		{"icmp type without icmp", func(s *Spec) {
			s.ACLs = []Rule{{Name: "r", Network: "blue", Proto: "tcp", ICMPType: intp(8), Action: "deny"}}
		}, "acls[0].icmp_type", "icmp"},
		{"eth_type contradiction", func(s *Spec) {
			s.ACLs = []Rule{{Name: "r", Network: "blue", EthType: "ipv6", Src: "10.0.0.0/8", Action: "deny"}}
		}, "acls[0].eth_type", "contradicts"},
		{"duplicate VLAN", func(s *Spec) { s.Networks[1].VLAN = 10 }, "networks[1].vlan", "blue"},
		{"VLAN 4095", func(s *Spec) { s.Networks[0].VLAN = 4095 }, "networks[0].vlan", "1-4094"},
		{"duplicate VNI", func(s *Spec) { s.Networks[1].VNI = 5010 }, "networks[1].vni", "VNI"},
		{"bad default", func(s *Spec) { s.Networks[0].Default = "maybe" }, "networks[0].default", "allow or deny"},
		{"bad glob", func(s *Spec) { s.Networks[0].Ports = []string{"web-["} }, "networks[0].ports[0]", "glob"},
		{"duplicate rule", func(s *Spec) {
			s.ACLs = []Rule{{Name: "r", Network: "blue", Action: "deny"}, {Name: "r", Network: "red", Action: "deny"}}
		}, "acls[1].name", "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := twoNetworks()
			c.edit(&s)
			_, err := Compile(s)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError", err)
			}
			if fe.Path != c.path || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %q at %s, want %s mentioning %q", err, fe.Path, c.path, c.says)
			}
		})
	}
}

func TestModeResolution(t *testing.T) {
	p, err := Compile(twoNetworks())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		port     topology.Port
		untagged uint16
		ok       bool
		tagged   []uint16
	}{
		{topology.Port{Name: "centos01_port1"}, 10, true, nil},
		{topology.Port{Name: "web-3"}, 10, true, nil},
		{topology.Port{Name: "x", VM: &topology.VM{IfaceID: "iface-b"}}, 10, true, nil},
		{topology.Port{Name: "web-1", VM: &topology.VM{UUID: "vm-r"}}, 20, true, nil}, // identity beats the name
		{topology.Port{Name: "tagged", Tag: 30}, 30, true, nil},                       // libvirt's portgroup tag
		{topology.Port{Name: "trunk0", Tag: 30}, 10, true, []uint16{20}},              // trunk beats the tag; native 10 untagged
		{topology.Port{Name: "other"}, DefaultSegment, true, nil},
	}
	for _, c := range cases {
		m := p.Mode(c.port)
		if m.Untagged != c.untagged || m.UntaggedOK != c.ok || len(m.Tagged) != len(c.tagged) {
			t.Errorf("%s: got %+v", c.port.Name, m)
		}
		for i := range c.tagged {
			if m.Tagged[i] != c.tagged[i] {
				t.Errorf("%s: tagged %v, want %v", c.port.Name, m.Tagged, c.tagged)
			}
		}
	}
	if _, ok := p.Mode(topology.Port{Name: "trunk1"}).Carries(30); ok {
		t.Error("a trunk carries a VLAN it was not given")
	}
	if tagged, ok := p.Mode(topology.Port{Name: "trunk1"}).Carries(20); !ok || !tagged {
		t.Error("a trunk does not carry its VLAN 20 tagged")
	}
}

func TestRangeMasksCoverExactly(t *testing.T) {
	for _, r := range [][2]uint16{{1, 65535}, {8080, 8080}, {1000, 2000}, {1024, 2047}, {7, 9}, {65535, 65535}} {
		covered := map[uint16]bool{}
		for _, pm := range RangeMasks(r[0], r[1]) {
			for v := uint32(0); v <= 0xffff; v++ {
				if uint16(v)&pm.Mask == pm.Port {
					if covered[uint16(v)] {
						t.Fatalf("%v: %d covered twice", r, v)
					}
					covered[uint16(v)] = true
				}
			}
		}
		for v := uint32(0); v <= 0xffff; v++ {
			if in := uint16(v) >= r[0] && uint16(v) <= r[1]; in != covered[uint16(v)] {
				t.Fatalf("%v: port %d covered=%v", r, v, covered[uint16(v)])
			}
		}
	}
	if n := len(RangeMasks(1000, 2000)); n > 30 {
		t.Fatalf("1000-2000 took %d masks", n)
	}
}

func TestMergeRefusesANameInBoth(t *testing.T) {
	file := twoNetworks()
	_, err := Merge(file, Spec{Networks: []Network{{Name: "blue", VLAN: 30}}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "networks[2].name" {
		t.Fatalf("got %v", err)
	}
	// A trunk is named by its port: one port, one trunk, whoever declares it.
	file.Trunks = []Trunk{{Port: "uplink", VLANs: []int{10}}}
	_, err = Merge(file, Spec{Trunks: []Trunk{{Port: "uplink", VLANs: []int{20}}}})
	if !errors.As(err, &fe) || fe.Path != "trunks[1].port" {
		t.Fatalf("a trunk in both: %v", err)
	}
}

func TestRuleEthTypesFollowFromFields(t *testing.T) {
	s := twoNetworks()
	s.ACLs = []Rule{
		{Name: "any-tcp", Network: "blue", Proto: "tcp", Action: "allow"},
		{Name: "ping", Network: "blue", Proto: "icmp", ICMPType: intp(8), Action: "deny"},
		{Name: "v6", Network: "blue", Dst: "2001:db8::/64", Action: "deny"},
		{Name: "all", Network: "blue", InPort: "web-*", Action: "deny"},
	}
	p, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]uint16{{EthIPv4, EthIPv6}, {EthIPv4}, {EthIPv6}, nil}
	for i, r := range p.Rules() {
		if len(r.EthTypes) != len(want[i]) {
			t.Errorf("%s: eth types %v, want %v", r.Name, r.EthTypes, want[i])
		}
	}
}

// A trunk whose native VLAN is also among its tagged ones is refused,
// naming the field: its tagged frames used to be dropped without a word.
func TestTrunkNativeAlsoTaggedIsRefused(t *testing.T) {
	s := Spec{Networks: []Network{{Name: "a", VLAN: 10}, {Name: "b", VLAN: 20}},
		Trunks: []Trunk{{Port: "uplink0", VLANs: []int{10, 20}, Native: 10}}}
	_, err := Compile(s)
	if err == nil || !strings.Contains(err.Error(), "trunks[0].native") || !strings.Contains(err.Error(), "also in vlans") {
		t.Fatalf("native 10 in vlans [10 20]: %v, want refused naming trunks[0].native", err)
	}
}
