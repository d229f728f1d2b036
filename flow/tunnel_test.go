package flow

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/loomsdn/loom/openflow"
)

var (
	tunSrc = netip.MustParseAddr("192.168.50.2")
	tunDst = netip.MustParseAddr("192.168.50.3")
)

// tunnelFlows pairs the tunnel fields and actions with their text: OVS's
// spelling of each value (hex tun_id, 0 without 0x), in Loom's field order.
var tunnelFlows = []textCase{
	{"table=0, priority=100,in_port=5,tun_id=0x1392 actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1",
		Flow{Priority: 100, Match: Match{}.InPort(5).TunID(0x1392), Actions: []Action{PushVLAN(), SetVLAN(10)}}.Then(1)},
	{"table=0, priority=101,in_port=5,tun_id=0x1392,tun_src=192.168.50.2 actions=drop",
		Flow{Priority: 101, Match: Match{}.InPort(5).TunID(0x1392).TunSrc(tunSrc)}},
	{"table=0, priority=102,tun_src=192.168.50.2 actions=goto_table:1",
		Flow{Priority: 102, Match: Match{}.TunSrc(tunSrc)}.Then(1)},
	{"table=0, priority=103,tun_id=0 actions=drop",
		Flow{Priority: 103, Match: Match{}.TunID(0)}},
	{"table=0, priority=104,dl_type=0x0800,nw_proto=6,tun_id=0xffffffffffffffff actions=drop",
		Flow{Priority: 104, Match: ipv4.IPProto(6).TunID(1<<64 - 1)}},
	{"table=1, priority=90,dl_dst=02:00:00:00:00:99,dl_vlan=10 actions=pop_vlan,set_field:0x1392->tun_id,set_field:192.168.50.3->tun_dst,output:5",
		Flow{Table: 1, Priority: 90, Match: Match{}.VLAN(10).EthDst(MAC{2, 0, 0, 0, 0, 0x99}),
			Actions: []Action{PopVLAN(), SetTunID(0x1392), SetTunDst(tunDst), Output(5)}}},
	{"table=1, priority=91 actions=set_field:0->tun_id,set_field:0.0.0.0->tun_dst,set_field:0xffffffffffffffff->tun_id",
		Flow{Table: 1, Priority: 91, Actions: []Action{SetTunID(0), SetTunDst(netip.IPv4Unspecified()), SetTunID(1<<64 - 1)}}},
}

func TestTunnelFlowText(t *testing.T) { checkTextRoundTrip(t, tunnelFlows) }

// Parse also takes OVS's field order (tunnel fields before in_port, as
// dump-flows prints them) and decimal keys.
func TestParseTunnelOtherSpellings(t *testing.T) {
	for text, want := range map[string]Flow{
		"tun_id=0x1392,tun_src=192.168.50.2,in_port=1 actions=drop": {Match: Match{}.InPort(1).TunID(0x1392).TunSrc(tunSrc)},
		"tun_id=5010 actions=set_field:5010->tun_id":                {Match: Match{}.TunID(0x1392), Actions: []Action{SetTunID(0x1392)}},
		"tun_id=0x0 actions=set_field:0x00->tun_id":                 {Match: Match{}.TunID(0), Actions: []Action{SetTunID(0)}},
	} {
		got, err := Parse(text)
		if err != nil {
			t.Errorf("Parse(%q): %v", text, err)
			continue
		}
		if got.Key() != want.Key() || !got.SameBehaviour(want) {
			t.Errorf("Parse(%q) = %q, want %q", text, got, want)
		}
	}
	acts, err := ParseActions("set_field:192.168.50.3->tun_dst,set_field:0x1392->tun_id,output:1")
	if want := []Action{SetTunDst(tunDst), SetTunID(0x1392), Output(1)}; err != nil || fmt.Sprint(acts) != fmt.Sprint(want) {
		t.Errorf("ParseActions: %v, %v", acts, err)
	}
}

func TestParseTunnelErrorsNameTheField(t *testing.T) {
	for text, field := range map[string]string{
		"tun_id=0x1392/0xffff actions=drop":                 "tun_id",
		"tun_id=0x10000000000000000 actions=drop":           "tun_id",
		"tun_id=vni1 actions=drop":                          "tun_id",
		"tun_id= actions=drop":                              "tun_id",
		"tun_src=2001:db8::1 actions=drop":                  "tun_src",
		"tun_src=::ffff:192.168.50.2 actions=drop":          "tun_src",
		"tun_src=192.168.50.0/24 actions=drop":              "tun_src",
		"tun_src=192.168.50 actions=drop":                   "tun_src",
		"tun_dst=192.168.50.3 actions=drop":                 "tun_dst",
		"actions=set_field:0xzz->tun_id":                    "tun_id",
		"actions=set_field:0x1/0xff->tun_id":                "tun_id",
		"actions=set_field:->tun_id":                        "tun_id",
		"actions=set_field:2001:db8::1->tun_dst":            "tun_dst",
		"actions=set_field:192.168.50.3/32->tun_dst":        "tun_dst",
		"actions=set_field:192.168.50.3->tun_src":           "tun_src",
		"actions=set_field:192.168.50.3->tun_ipv6_dst,drop": "tun_ipv6_dst",
	} {
		_, err := Parse(text)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", text)
			continue
		}
		if why := strings.TrimPrefix(err.Error(), fmt.Sprintf("flow %q: ", text)); !strings.Contains(why, field) {
			t.Errorf("Parse(%q): %q does not name %s", text, why, field)
		}
	}
}

func TestTunnelBuildersAreCanonical(t *testing.T) {
	mapped := netip.MustParseAddr("::ffff:192.168.50.2")
	v6 := netip.MustParseAddr("2001:db8::1")
	for name, c := range map[string]struct{ a, b Match }{
		"mapped tun_src is IPv4":      {Match{}.TunSrc(mapped), Match{}.TunSrc(tunSrc)},
		"invalid tun_src sets none":   {Match{}.TunSrc(netip.Addr{}), Match{}},
		"IPv6 tun_src sets none":      {Match{}.TunSrc(v6), Match{}},
		"a later IPv6 undoes":         {Match{}.TunSrc(tunSrc).TunSrc(v6), Match{}},
		"the last tun_id wins":        {Match{}.TunID(7).TunID(0x1392), Match{}.TunID(0x1392)},
		"built in another order":      {Match{}.TunSrc(tunSrc).InPort(1).TunID(1), Match{}.InPort(1).TunID(1).TunSrc(tunSrc)},
		"zone is dropped with the v6": {Match{}.TunSrc(netip.MustParseAddr("fe80::1%eth0")), Match{}},
	} {
		if c.a != c.b {
			t.Errorf("%s: %q != %q", name, c.a, c.b)
		}
	}
	for name, c := range map[string]struct {
		m    Match
		want Fields
	}{
		"tun_id 0 is a match": {Match{}.TunID(0), FieldTunID},
		"tun_src 0.0.0.0 too": {Match{}.TunSrc(netip.IPv4Unspecified()), FieldTunSrc},
	} {
		if c.m.Fields() != c.want || c.m == (Match{}) {
			t.Errorf("%s: fields %s", name, c.m.Fields())
		}
	}
	if SetTunDst(mapped) != SetTunDst(tunSrc) || SetTunDst(v6) != SetTunDst(netip.IPv4Unspecified()) || SetTunDst(netip.Addr{}).String() != "set_field:0.0.0.0->tun_dst" {
		t.Error("SetTunDst does not unmap, or sets something other than 0.0.0.0 for a non-IPv4 address")
	}
	if SetTunID(1) == SetTunDst(netip.MustParseAddr("0.0.0.1")) || SetTunID(5).Port() != 0 {
		t.Error("set tun_id and set tun_dst of the same bits compare equal, or a set-field has a port")
	}
}

// The OXMs OVS 3.1 reports for Loom's tunnel matches (captured from a
// dump of "in_port=1,tun_id=0,tun_src=192.168.50.2"): tunnel_id in the
// basic class, tun_src as NXM_NX_TUN_IPV4_SRC, both exact, after in_port.
func TestTunnelMatchWire(t *testing.T) {
	inPort, id, src := oxm(0, "00000001", ""), oxm(38, "0000000000001392", ""), nxm1(31, "c0a83202", "")
	m := Match{}.TunSrc(tunSrc).TunID(0x1392).InPort(1)
	if got, want := fmt.Sprint(m.OXMs()), fmt.Sprint([]openflow.OXM{inPort, id, src}); got != want {
		t.Errorf("OXMs %s\nwant %s", got, want)
	}
	for name, c := range map[string]struct {
		oxms []openflow.OXM
		want Match
	}{
		"as OVS reports":  {[]openflow.OXM{inPort, oxm(38, "0000000000000000", ""), src}, Match{}.InPort(1).TunID(0).TunSrc(tunSrc)},
		"any order":       {[]openflow.OXM{src, id, inPort}, m},
		"full masks":      {[]openflow.OXM{oxm(38, "ffffffffffffffff", "ffffffffffffffff"), nxm1(31, "c0a83202", "ffffffff")}, Match{}.TunID(1<<64 - 1).TunSrc(tunSrc)},
		"tun_src 0.0.0.0": {[]openflow.OXM{nxm1(31, "00000000", "")}, Match{}.TunSrc(netip.IPv4Unspecified())},
	} {
		got, err := MatchFromOXMs(c.oxms)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, c.want)
		}
	}
	for _, c := range tunnelFlows {
		if got, err := MatchFromOXMs(c.flow.Match.OXMs()); err != nil || got != c.flow.Match {
			t.Errorf("%s: read back as %q, %v", c.text, got, err)
		}
	}
	for name, oxms := range map[string][]openflow.OXM{
		"masked tun_id":         {oxm(38, "0000000000001300", "ffffffffffffff00")},
		"masked tun_src":        {nxm1(31, "c0a83200", "ffffff00")},
		"tun_id of 4 bytes":     {oxm(38, "00001392", "")},
		"tun_src of 16 bytes":   {nxm1(31, "20010db8000000000000000000000001", "")},
		"tun_src mask of 2":     {nxm1(31, "c0a83202", "ffff")},
		"two tun_ids":           {id, oxm(38, "0000000000000001", "")},
		"tun_dst as a match":    {nxm1(32, "c0a83203", "")},
		"tunnel_id as NXM_1 38": {nxm1(38, "0000000000001392", "")},
		"tun_src in basic 31":   {oxm(31, "c0a83202", "")},
	} {
		if m, err := MatchFromOXMs(oxms); err == nil {
			t.Errorf("%s: converted to %q", name, m)
		}
	}
}

func nxm1(field uint8, value, mask string) openflow.OXM {
	o := oxm(field, value, mask)
	o.Class = 0x0001
	return o
}

// The instructions OVS 3.1 reported for "pop_vlan,set_field:0x1392->tun_id,
// set_field:192.168.50.3->tun_dst,set_field:0->tun_id,output:1": the
// reconciler compares exactly these bytes.
func TestTunnelSetFieldWireBytes(t *testing.T) {
	for _, c := range []struct {
		a    Action
		want string
	}{
		//                         type len  class fld+len value            pad
		{SetTunID(0x1392), "0019 0010 8000 4c 08 0000000000001392"},
		{SetTunID(0), "0019 0010 8000 4c 08 0000000000000000"},
		{SetTunDst(tunDst), "0019 0010 0001 40 04 c0a83203 00000000"},
	} {
		if got, want := actionBytes(c.a.Wire())[8:], unhex(strings.ReplaceAll(c.want, " ", "")); !bytes.Equal(got, want) {
			t.Errorf("%s: %x, want %x", c.a, got, want)
		}
	}
	f := Flow{Table: 1, Priority: 90, Actions: []Action{PopVLAN(), SetTunID(0x1392), SetTunDst(tunDst), SetTunID(0), Output(1)}}
	want := "000400500000000000120008000000000019001080004c0800000000000013920019001000014004c0a83203000000000019001080004c08000000000000000000000010000000010000000000000000"
	if got := hex.EncodeToString(f.InstructionBytes()); got != want {
		t.Errorf("instructions %s\nOVS reports  %s", got, want)
	}
}

func TestTunnelActionFromWire(t *testing.T) {
	for _, a := range []Action{SetTunID(0x1392), SetTunID(0), SetTunID(1<<64 - 1), SetTunDst(tunDst), SetTunDst(netip.IPv4Unspecified())} {
		ins, err := openflow.ParseInstructions(Flow{Actions: []Action{a}}.InstructionBytes())
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := ActionFromWire(ins[0].Actions[0]); !ok || got != a {
			t.Errorf("%s read back as %s, %v", a, got, ok)
		}
	}
	set := func(f openflow.OXM) openflow.Action { return openflow.Action{Type: openflow.ActionSetField, Field: f} }
	for name, w := range map[string]openflow.Action{
		"masked tun_id":          set(oxm(38, "0000000000001392", "ffffffffffffffff")),
		"masked tun_dst":         set(nxm1(32, "c0a83203", "ffffff00")),
		"tun_id of 4 bytes":      set(oxm(38, "00001392", "")),
		"tun_dst of 16 bytes":    set(nxm1(32, "20010db8000000000000000000000001", "")),
		"set tun_src":            set(nxm1(31, "c0a83202", "")),
		"tunnel_id in NXM_1":     set(nxm1(38, "0000000000001392", "")),
		"tun_dst in basic class": set(oxm(32, "c0a83203", "")),
	} {
		if a, ok := ActionFromWire(w); ok {
			t.Errorf("%s read back as %s", name, a)
		}
	}
}

func TestLessIsATotalOrderOverTunnelMatches(t *testing.T) {
	ms := []Match{{}, Match{}.TunID(0), Match{}.TunID(1), Match{}.TunID(0x100), Match{}.TunID(1<<64 - 1),
		Match{}.TunSrc(tunSrc), Match{}.TunSrc(tunDst), Match{}.TunSrc(netip.IPv4Unspecified()),
		Match{}.TunID(1).TunSrc(tunSrc), Match{}.TunID(1).TunSrc(tunDst), Match{}.InPort(1).TunID(1),
		ipv4.CTState(CTTrk, CTTrk), ipv4.CTState(CTTrk, CTTrk).TunID(1)}
	for _, a := range ms {
		for _, b := range ms {
			lt, gt := a.less(b), b.less(a)
			if a == b && (lt || gt) || a != b && lt == gt {
				t.Fatalf("%q vs %q: less %v, greater %v", a, b, lt, gt)
			}
			for _, c := range ms {
				if lt && b.less(c) && !a.less(c) {
					t.Fatalf("not transitive: %q < %q < %q", a, b, c)
				}
			}
		}
	}
	if !(Match{}).TunID(0xff).less(Match{}.TunID(0x100)) {
		t.Error("tun_id is not ordered numerically")
	}
}

func TestTunnelFields(t *testing.T) {
	if got := (FieldTunID | FieldTunSrc | FieldCTState).String(); got != "ct_state,tun_id,tun_src" {
		t.Fatalf("fields %q", got)
	}
	p := Pipeline{0: {ID: 0, Name: "in", Match: FieldInPort | FieldTunID}}
	if err := p.Check(Flow{Match: Match{}.InPort(1).TunID(1)}); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(Flow{Match: Match{}.InPort(1).TunID(1).TunSrc(tunSrc)}); err == nil || !strings.Contains(err.Error(), "tun_src") {
		t.Fatalf("got %v, want an error naming tun_src", err)
	}
}
