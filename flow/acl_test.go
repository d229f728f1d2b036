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
	ipv4  = Match{}.EthType(0x0800)
	ipv6  = Match{}.EthType(0x86dd)
	net24 = netip.MustParsePrefix("10.0.0.0/24")
	net64 = netip.MustParsePrefix("2001:db8::/64")
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// aclFlows pairs every new field and the ct action with its text: the
// spelling ovs-ofctl dump-flows uses, where Loom has a choice.
// textCase is a flow and its ovs-ofctl text.
type textCase struct {
	text string
	flow Flow
}

var aclFlows = []textCase{
	{"table=0, priority=100,dl_type=0x0800,nw_proto=6,nw_src=10.0.0.0/24,nw_dst=10.1.2.3,tp_dst=0x1f90/0xfff0 actions=goto_table:1",
		Flow{Priority: 100, Match: ipv4.IPProto(6).IPSrc(net24).IPDst(pfx("10.1.2.3/32")).L4Dst(0x1f90, 0xfff0)}.Then(1)},
	{"table=0, priority=101,dl_type=0x86dd,nw_proto=17,ipv6_src=2001:db8::/64,tp_src=53 actions=output:2",
		Flow{Priority: 101, Match: ipv6.IPProto(17).IPSrc(net64).L4Src(53, 0xffff), Actions: []Action{Output(2)}}},
	{"table=0, priority=102,dl_type=0x86dd,nw_proto=132,ipv6_dst=2001:db8::1,tp_src=0x0/0xfc00,tp_dst=5000 actions=drop",
		Flow{Priority: 102, Match: ipv6.IPProto(132).IPDst(pfx("2001:db8::1/128")).L4Src(0, 0xfc00).L4Dst(5000, 0xffff)}},
	{"table=0, priority=103,dl_type=0x0800,nw_proto=1,icmp_type=8,icmp_code=0 actions=drop",
		Flow{Priority: 103, Match: ipv4.IPProto(1).ICMPType(8).ICMPCode(0)}},
	{"table=0, priority=104,dl_type=0x86dd,nw_proto=58,icmpv6_type=128,icmpv6_code=0 actions=drop",
		Flow{Priority: 104, Match: ipv6.IPProto(58).ICMPType(128).ICMPCode(0)}},
	{"table=0, priority=105,dl_type=0x0800,ct_state=-trk actions=ct(table=1,zone=10)",
		Flow{Priority: 105, Match: ipv4.CTState(0, CTTrk), Actions: []Action{CT(false, 10, 1)}}},
	{"table=1, priority=106,dl_type=0x0800,ct_state=+est+trk actions=ct(commit,zone=10),goto_table:2",
		Flow{Table: 1, Priority: 106, Match: ipv4.CTState(CTEst|CTTrk, CTEst|CTTrk), Actions: []Action{CT(true, 10, NoRecirc)}}.Then(2)},
	{"table=1, priority=107,dl_type=0x0800,ct_state=+new-est+trk actions=ct(commit,table=2,zone=10),output:3",
		Flow{Table: 1, Priority: 107, Match: ipv4.CTState(CTNew|CTTrk, CTNew|CTEst|CTTrk), Actions: []Action{CT(true, 10, 2), Output(3)}}},
	{"table=1, priority=108,dl_type=0x0800,ct_state=est|trk actions=ct()",
		Flow{Table: 1, Priority: 108, Match: ipv4.CTState(CTEst|CTTrk, 0xffffffff), Actions: []Action{CT(false, 0, NoRecirc)}}},
	{"table=1, priority=109,ct_state=0 actions=ct(commit,table=0)",
		Flow{Table: 1, Priority: 109, Match: Match{}.CTState(0, 0xffffffff), Actions: []Action{CT(true, 0, 0)}}},
	{"table=1, priority=110,ct_state=-rel+rpl+inv-snat+dnat actions=drop",
		Flow{Table: 1, Priority: 110, Match: Match{}.CTState(CTRpl|CTInv|0x80, CTRel|CTRpl|CTInv|0xc0)}},
	{"table=2, priority=111,in_port=1,dl_src=02:00:ac:10:7b:61,dl_type=0x0800,nw_proto=47 actions=drop",
		Flow{Table: 2, Priority: 111, Match: ipv4.InPort(1).EthSrc(mac).IPProto(47)}},
}

func TestACLFlowText(t *testing.T) { checkTextRoundTrip(t, aclFlows) }

// checkTextRoundTrip checks that each flow prints as its text and that
// the text parses back to the same flow.
func checkTextRoundTrip(t *testing.T, cases []textCase) {
	t.Helper()
	for _, c := range cases {
		if got := c.flow.String(); got != c.text {
			t.Errorf("String:\ngot  %s\nwant %s", got, c.text)
		}
		parsed, err := Parse(c.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.text, err)
			continue
		}
		if parsed.Key() != c.flow.Key() || !parsed.SameBehaviour(c.flow) || parsed.String() != c.text {
			t.Errorf("Parse(%q) = %q", c.text, parsed)
		}
	}
}

// Forms Parse takes beside String's: the other orders and spellings of
// ovs-ofctl, and values it canonicalises.
func TestParseOtherSpellings(t *testing.T) {
	for text, want := range map[string]Flow{
		"dl_type=0x0800,ct_state=+trk actions=ct(zone=10,table=2,commit)": {Match: ipv4.CTState(CTTrk, CTTrk), Actions: []Action{CT(true, 10, 2)}},
		"ct_state=0x22/0xff actions=ct":                                   {Match: Match{}.CTState(0x22, 0xff), Actions: []Action{CT(false, 0, NoRecirc)}},
		"ct_state=trk actions=ct(zone=0x10)":                              {Match: Match{}.CTState(CTTrk, 0xffffffff), Actions: []Action{CT(false, 16, NoRecirc)}},
		"ct_state=0x20/0xffff0020 actions=drop":                           {Match: Match{}.CTState(0, CTTrk).CTState(CTTrk, CTTrk)},
		"dl_type=0x86dd,icmp_type=128,icmp_code=1 actions=drop":           {Match: ipv6.ICMPType(128).ICMPCode(1)},
		"nw_src=10.0.0.5/24,ipv6_dst=2001:db8::7/64 actions=drop":         {Match: Match{}.IPSrc(net24).IPDst(net64)},
		"nw_dst=10.0.0.1/32 actions=drop":                                 {Match: Match{}.IPDst(pfx("10.0.0.1/32"))},
		"tp_src=0x50,tp_dst=0x1f95/0xfff0 actions=drop":                   {Match: Match{}.L4Src(80, 0xffff).L4Dst(0x1f90, 0xfff0)},
		"tp_dst=080 actions=drop":                                         {Match: Match{}.L4Dst(80, 0xffff)},
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
}

func TestParseErrorsNameTheField(t *testing.T) {
	for text, field := range map[string]string{
		"nw_proto=300 actions=drop":                             "nw_proto",
		"nw_src=10.0.0.0/33 actions=drop":                       "nw_src",
		"nw_src=2001:db8::/64 actions=drop":                     "nw_src",
		"nw_dst=0.0.0.0/0 actions=drop":                         "nw_dst",
		"ipv6_src=10.0.0.0/8 actions=drop":                      "ipv6_src",
		"ipv6_dst=fe80::1%eth0 actions=drop":                    "ipv6_dst",
		"tp_src=70000 actions=drop":                             "tp_src",
		"tp_dst=0x50/0 actions=drop":                            "tp_dst",
		"tp_dst=80/0xzz actions=drop":                           "tp_dst",
		"icmp_type=256 actions=drop":                            "icmp_type",
		"icmpv6_code=x actions=drop":                            "icmpv6_code",
		"dl_type=0x0800,icmpv6_type=128 actions=drop":           "icmpv6_type",
		"ct_state=+bogus actions=drop":                          "ct_state",
		"ct_state=+trk-trk actions=drop":                        "ct_state",
		"ct_state=trk|nope actions=drop":                        "ct_state",
		"ct_state=0x100/0x100 actions=drop":                     "ct_state",
		"ct_state= actions=drop":                                "ct_state",
		"dl_type=0x0800 actions=ct(nat)":                        "ct",
		"dl_type=0x0800 actions=ct(table=255)":                  "table",
		"dl_type=0x0800 actions=ct(zone=65536)":                 "zone",
		"dl_type=0x0800 actions=ct(commit=1)":                   "commit",
		"dl_type=0x0800 actions=ct(zone=1,zone=2)":              "zone",
		"dl_type=0x0800 actions=ct(commit":                      "ct",
		"dl_type=0x0800 actions=ct(commit,zone=1),explode(1,2)": "explode",
	} {
		_, err := Parse(text)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", text)
			continue
		}
		// Past the quoted flow, which names every field anyway.
		if why := strings.TrimPrefix(err.Error(), fmt.Sprintf("flow %q: ", text)); !strings.Contains(why, field) {
			t.Errorf("Parse(%q): %q does not name %s", text, why, field)
		}
	}
}

// The builders keep a Match canonical, so equal matches are equal keys.
func TestACLMatchesAreCanonical(t *testing.T) {
	for name, c := range map[string]struct{ a, b Match }{
		"/0 sets nothing":               {Match{}.IPSrc(pfx("0.0.0.0/0")).IPDst(pfx("::/0")), Match{}},
		"invalid prefix sets nothing":   {Match{}.IPSrc(netip.Prefix{}), Match{}},
		"host bits cleared":             {Match{}.IPSrc(pfx("10.0.0.77/24")), Match{}.IPSrc(net24)},
		"ipv6 host bits cleared":        {Match{}.IPDst(pfx("2001:db8::1/64")), Match{}.IPDst(net64)},
		"a later /0 undoes":             {Match{}.IPSrc(net24).IPSrc(pfx("0.0.0.0/0")), Match{}},
		"port mask 0 sets nothing":      {Match{}.L4Src(80, 0).L4Dst(443, 0), Match{}},
		"a later mask 0 undoes":         {Match{}.L4Dst(443, 0xffff).L4Dst(1, 0), Match{}},
		"port bits outside mask":        {Match{}.L4Dst(0x1f9f, 0xfff0), Match{}.L4Dst(0x1f90, 0xfff0)},
		"ct exact is OVS's 0xff":        {Match{}.CTState(CTEst, 0xffffffff), Match{}.CTState(CTEst, 0xff)},
		"ct mask 0 sets nothing":        {Match{}.CTState(CTEst, 0), Match{}},
		"ct state outside mask":         {Match{}.CTState(CTEst|CTTrk, CTTrk), Match{}.CTState(CTTrk, CTTrk)},
		"ct bits OVS lacks are ignored": {Match{}.CTState(0x120, 0x120), Match{}.CTState(CTTrk, CTTrk)},
	} {
		if c.a != c.b {
			t.Errorf("%s: %q != %q", name, c.a, c.b)
		}
	}
	if s := (Match{}).IPSrc(pfx("10.1.2.3/32")).IPDst(pfx("2001:db8::1/128")).String(); s != "nw_src=10.1.2.3,ipv6_dst=2001:db8::1" {
		t.Errorf("full-length prefixes print as %q", s)
	}
	if m := (Match{}).IPSrc(pfx("::ffff:10.0.0.0/104")); m.String() != "ipv6_src=::ffff:10.0.0.0/104" || m == (Match{}).IPSrc(pfx("10.0.0.0/8")) {
		t.Errorf("an IPv4-mapped IPv6 prefix is taken for IPv4: %q", m)
	}
	if (Match{}).IPSrc(net24) == (Match{}).IPDst(net24) || (Match{}).L4Src(80, 0xffff) == (Match{}).L4Dst(80, 0xffff) {
		t.Error("source and destination matches compare equal")
	}
}

func oxm(field uint8, value, mask string) openflow.OXM {
	o := openflow.OXM{Class: openflow.OXMClassBasic, Field: field, Value: unhex(value)}
	if mask != "" {
		o.Mask = unhex(mask)
	}
	return o
}

func ctOXM(value, mask string) openflow.OXM {
	o := oxm(0, value, mask)
	o.Class, o.Field = 0x0001, 105
	return o
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestACLMatchesRoundTripTheWire(t *testing.T) {
	for _, c := range aclFlows {
		got, err := MatchFromOXMs(c.flow.Match.OXMs())
		if err != nil || got != c.flow.Match {
			t.Errorf("%s: got %q, %v", c.text, got, err)
		}
	}
}

// What OVS 3.1 reports for Loom's matches (captured from a dump): fields
// in its own order, exact where Loom sent a full mask, ct_state always
// masked with 0xff.
func TestMatchFromWhatOVSReports(t *testing.T) {
	eth4, eth6 := oxm(5, "0800", ""), oxm(5, "86dd", "")
	for name, c := range map[string]struct {
		oxms []openflow.OXM
		want Match
	}{
		"tcp, prefixes": {[]openflow.OXM{eth4, oxm(11, "0a000000", "ffffff00"), oxm(12, "0a010203", ""), oxm(10, "06", ""), oxm(14, "1f90", "fff0")},
			ipv4.IPProto(6).IPSrc(net24).IPDst(pfx("10.1.2.3/32")).L4Dst(0x1f90, 0xfff0)},
		"full masks": {[]openflow.OXM{eth4, oxm(10, "06", ""), oxm(11, "0a000001", "ffffffff"), oxm(13, "0050", "ffff")},
			ipv4.IPProto(6).IPSrc(pfx("10.0.0.1/32")).L4Src(80, 0xffff)},
		"udp6": {[]openflow.OXM{eth6, oxm(10, "11", ""), oxm(26, "20010db8000000000000000000000000", "ffffffffffffffff0000000000000000"), oxm(15, "0035", "")},
			ipv6.IPProto(17).IPSrc(net64).L4Src(53, 0xffff)},
		"sctp6": {[]openflow.OXM{eth6, oxm(10, "84", ""), oxm(27, "20010db8000000000000000000000001", ""), oxm(18, "1388", "")},
			ipv6.IPProto(132).IPDst(pfx("2001:db8::1/128")).L4Dst(5000, 0xffff)},
		"icmp":   {[]openflow.OXM{eth4, oxm(10, "01", ""), oxm(19, "08", ""), oxm(20, "00", "")}, ipv4.IPProto(1).ICMPType(8).ICMPCode(0)},
		"icmpv6": {[]openflow.OXM{oxm(29, "80", ""), oxm(30, "00", ""), oxm(10, "3a", ""), eth6}, ipv6.IPProto(58).ICMPType(128).ICMPCode(0)},
		"-trk":   {[]openflow.OXM{eth4, ctOXM("00000000", "00000020")}, ipv4.CTState(0, CTTrk)},
		"+est+trk exact": {[]openflow.OXM{eth4, ctOXM("00000022", "000000ff")},
			ipv4.CTState(CTEst|CTTrk, 0xffffffff)},
		"ct_state without a mask": {[]openflow.OXM{ctOXM("00000022", "")}, Match{}.CTState(CTEst|CTTrk, 0xffffffff)},
	} {
		got, err := MatchFromOXMs(c.oxms)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, c.want)
		}
	}
}

func TestMatchFromOXMsRefusesWhatLoomCannotBuild(t *testing.T) {
	eth4 := oxm(5, "0800", "")
	for name, oxms := range map[string][]openflow.OXM{
		"non-contiguous ipv4 mask":  {eth4, oxm(12, "0a000000", "ff00ff00")},
		"non-contiguous ipv6 mask":  {oxm(26, "20010db8000000000000000000000000", "ffff0000ffff00000000000000000000")},
		"host bits outside mask":    {eth4, oxm(11, "0a000001", "ffffff00")},
		"ipv4 field of 16 bytes":    {oxm(11, "20010db8000000000000000000000000", "")},
		"port bits outside mask":    {oxm(14, "1f95", "fff0")},
		"udp port under tcp":        {eth4, oxm(10, "06", ""), oxm(16, "0035", "")},
		"tcp port under udp":        {eth4, oxm(10, "11", ""), oxm(13, "0035", "")},
		"icmpv6 under ipv4":         {eth4, oxm(10, "3a", ""), oxm(29, "80", "")},
		"icmpv4 under ipv6":         {oxm(5, "86dd", ""), oxm(10, "01", ""), oxm(19, "08", "")},
		"masked MAC":                {oxm(3, "020000000001", "ffffffffff00")},
		"masked ip_proto":           {oxm(10, "06", "ff")},
		"ipv4 and ipv6 sources":     {oxm(11, "0a000001", ""), oxm(26, "20010db8000000000000000000000001", "")},
		"two tcp sources":           {oxm(13, "0050", ""), oxm(13, "0051", "")},
		"ct_state bits beyond mask": {ctOXM("00000022", "00000020")},
		"ct_state of 2 bytes":       {ctOXM("0022", "")},
		"other NXM_1 field":         {{Class: 0x0001, Field: 106, Value: unhex("0001")}},
		"experimenter field":        {{Class: openflow.OXMClassExperimenter, Field: 1, Experimenter: 0x2320, Value: unhex("01")}},
	} {
		if m, err := MatchFromOXMs(oxms); err == nil {
			t.Errorf("%s: converted to %q", name, m)
		}
	}
}

// Prerequisites precede the fields that need them (OVS checks each field
// as it reads it), exact fields carry no mask, and the order is fixed.
func TestACLOXMOrderAndMasks(t *testing.T) {
	m := Match{}.CTState(CTTrk, CTTrk).L4Dst(80, 0xffff).IPSrc(pfx("10.0.0.1/32")).IPDst(net24).IPProto(6).EthType(0x0800)
	var fields []uint8
	for _, o := range m.OXMs() {
		fields = append(fields, o.Field)
		wantMask := o.Field == openflow.OXMIPv4Dst || o.Class == 0x0001
		if (o.Mask != nil) != wantMask {
			t.Errorf("field %d: mask %x", o.Field, o.Mask)
		}
	}
	if got, want := fields, []uint8{5, 10, 11, 12, 14, 105}; !bytes.Equal(got, want) {
		t.Errorf("OXM fields in order %v, want %v", got, want)
	}
	for proto, want := range map[uint8][2]uint8{6: {13, 14}, 17: {15, 16}, 132: {17, 18}} {
		o := ipv4.IPProto(proto).L4Src(1, 0xffff).L4Dst(2, 0xffff).OXMs()
		if o[2].Field != want[0] || o[3].Field != want[1] {
			t.Errorf("ip_proto %d: port fields %d, %d, want %v", proto, o[2].Field, o[3].Field, want)
		}
	}
	if o := ipv6.IPProto(58).ICMPType(1).ICMPCode(2).OXMs(); o[2].Field != 29 || o[3].Field != 30 {
		t.Errorf("ICMPv6 type and code in fields %d, %d", o[2].Field, o[3].Field)
	}
}

// The ct action's bytes, checked by hand against struct
// nx_action_conntrack, and the instructions OVS 3.1 reported for
// "ct(commit,zone=10),goto_table:2": the reconciler compares exactly these.
func TestCTWireBytes(t *testing.T) {
	for _, c := range []struct {
		a    Action
		want string
	}{
		//            type len  vendor   sub  flags zone_src zone tbl pad    alg
		{CT(false, 10, 1), "ffff 0018 00002320 0023 0000 00000000 000a 01 000000 0000"},
		{CT(true, 10, 2), "ffff 0018 00002320 0023 0001 00000000 000a 02 000000 0000"},
		{CT(true, 0xffff, NoRecirc), "ffff 0018 00002320 0023 0001 00000000 ffff ff 000000 0000"},
		{CT(false, 0, NoRecirc), "ffff 0018 00002320 0023 0000 00000000 0000 ff 000000 0000"},
	} {
		want := unhex(strings.ReplaceAll(c.want, " ", ""))
		w := c.a.Wire()
		if w.Type != 0xffff || !bytes.Equal(w.Raw, want) {
			t.Errorf("%s: %x, want %x", c.a, w.Raw, want)
		}
	}
	f := Flow{Table: 1, Match: ipv4.CTState(CTEst|CTTrk, CTEst|CTTrk), Actions: []Action{CT(true, 10, NoRecirc)}}.Then(2)
	if got, want := hex.EncodeToString(f.InstructionBytes()), "0004002000000000ffff0018000023200023000100000000000aff00000000000001000802000000"; got != want {
		t.Errorf("instructions %s\nOVS reports  %s", got, want)
	}
}

// Installed flows' actions read back as Loom's, and only when they would
// encode to the same bytes.
func TestActionFromWire(t *testing.T) {
	for _, a := range []Action{Output(2), ToController(), Flood(), PushVLAN(), PopVLAN(), SetVLAN(10),
		CT(false, 10, 1), CT(true, 10, NoRecirc), CT(true, 0, 0)} {
		ins, err := openflow.ParseInstructions(Flow{Actions: []Action{a}}.InstructionBytes())
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := ActionFromWire(ins[0].Actions[0]); !ok || got != a {
			t.Errorf("%s read back as %s, %v", a, got, ok)
		}
	}
	ct := CT(true, 10, 2).Wire().Raw
	withNAT := append(bytes.Clone(ct[:len(ct)-2]), 0, 21) // alg=21 (FTP)
	force := bytes.Clone(ct)
	force[11] |= 2 // NX_CT_F_FORCE
	other := bytes.Clone(ct)
	other[9] = 36 // another Nicira subtype
	for name, w := range map[string]openflow.Action{
		"output with max_len 128": {Type: openflow.ActionOutput, Port: openflow.PortController, MaxLen: 128},
		"ct with an ALG":          {Type: 0xffff, Raw: withNAT},
		"ct with force":           {Type: 0xffff, Raw: force},
		"another experimenter":    {Type: 0xffff, Raw: other},
		"group":                   {Type: openflow.ActionGroup, Group: 1},
		"set_field eth_dst":       {Type: openflow.ActionSetField, Field: openflow.BasicOXM(openflow.OXMEthDst, mac[:])},
	} {
		if a, ok := ActionFromWire(w); ok {
			t.Errorf("%s read back as %s", name, a)
		}
	}
}

// Key.Less stays a total order agreeing with ==, so sorted listings are
// deterministic.
func TestLessIsATotalOrderOverACLMatches(t *testing.T) {
	ms := []Match{{}, ipv4, ipv6, ipv4.IPProto(6), ipv4.IPProto(17),
		Match{}.IPSrc(net24), Match{}.IPSrc(pfx("10.0.0.0/25")), Match{}.IPSrc(net64), Match{}.IPDst(net24),
		Match{}.L4Src(80, 0xffff), Match{}.L4Src(80, 0xfff0), Match{}.L4Src(81, 0xffff), Match{}.L4Dst(80, 0xffff),
		Match{}.ICMPType(8), Match{}.ICMPType(0), Match{}.ICMPCode(1), Match{}.ICMPType(8).ICMPCode(1),
		Match{}.CTState(0, CTTrk), Match{}.CTState(CTTrk, CTTrk), Match{}.CTState(CTTrk, 0xff)}
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
}

func TestFieldNamesCoverTheNewFields(t *testing.T) {
	all := FieldIPProto | FieldIPSrc | FieldIPDst | FieldL4Src | FieldL4Dst | FieldICMPType | FieldICMPCode | FieldCTState
	if got := all.String(); got != "nw_proto,ip_src,ip_dst,tp_src,tp_dst,icmp_type,icmp_code,ct_state" {
		t.Fatalf("fields %q", got)
	}
	p := Pipeline{0: {ID: 0, Name: "acl", Match: FieldEthType | FieldIPSrc}}
	if err := p.Check(Flow{Match: ipv4.IPSrc(net24).CTState(0, CTTrk)}); err == nil || !strings.Contains(err.Error(), "ct_state") {
		t.Fatalf("got %v, want an error naming ct_state", err)
	}
}
