package flow

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/openflow"
)

var mac = MAC{0x02, 0, 0xac, 0x10, 0x7b, 0x61}

// Golden ovs-ofctl strings: the text form is what operators and tests read.
func TestFlowText(t *testing.T) {
	for want, f := range map[string]Flow{
		"table=0, priority=100,in_port=1,dl_src=02:00:ac:10:7b:61 actions=goto_table:1": Flow{Priority: 100, Match: Match{}.InPort(1).EthSrc(mac)}.Then(1),
		"table=1, priority=100,dl_dst=02:00:ac:10:7b:61 actions=output:2":               {Table: 1, Priority: 100, Match: Match{}.EthDst(mac), Actions: []Action{Output(2)}},
		"table=0, priority=0 actions=CONTROLLER:65535":                                  Table{ID: 0, Miss: MissController}.MissFlow(),
		"table=1, priority=0 actions=FLOOD":                                             Table{ID: 1, Miss: MissFlood}.MissFlow(),
		"table=2, priority=0 actions=drop":                                              Table{ID: 2, Miss: MissDrop}.MissFlow(),
		"table=3, priority=0 actions=goto_table:4":                                      Table{ID: 3, Miss: MissNext, Next: 4}.MissFlow(),
		"table=0, priority=5,dl_type=0x0806 actions=FLOOD,output:3":                     {Priority: 5, Match: Match{}.EthType(0x0806), Actions: []Action{Flood(), Output(3)}},
	} {
		if got := f.String(); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func TestMatchIsAKey(t *testing.T) {
	a := Flow{Priority: 100, Match: Match{}.InPort(1).EthSrc(mac)}
	b := Flow{Priority: 100, Match: Match{}.EthSrc(mac).InPort(1), Actions: []Action{Flood()}}
	if a.Key() != b.Key() {
		t.Fatal("the same match built in another order is a different key")
	}
	if a.SameBehaviour(b) {
		t.Fatal("different actions compare equal")
	}
	if (Flow{Match: Match{}.InPort(1)}).Key() == (Flow{Match: Match{}.InPort(2)}).Key() {
		t.Fatal("different in_port, same key")
	}
}

func TestCookieLayout(t *testing.T) {
	c := MakeCookie(7, 3, 0xdeadbeef)
	if !c.IsLoom() || c.App() != 7 || c.Generation() != 3 || c.Hash() != 0xdeadbeef {
		t.Fatalf("cookie %v: loom=%v app=%d gen=%d hash=%x", c, c.IsLoom(), c.App(), c.Generation(), c.Hash())
	}
	if Cookie(0x1234).IsLoom() {
		t.Fatal("foreign cookie taken for Loom's")
	}
}

func TestFlowModCarriesMatchAndInstructions(t *testing.T) {
	f := Flow{Table: 1, Priority: 100, Match: Match{}.InPort(3).EthDst(mac), Actions: []Action{Output(2)}, Cookie: MakeCookie(1, 0, 9)}
	fm := f.FlowMod(openflow.FlowAdd)
	b := openflow.Encode(fm, 1)
	if fm.TableID != 1 || fm.Priority != 100 || fm.Cookie != uint64(f.Cookie) || len(fm.Match) != 2 {
		t.Fatalf("flow-mod %+v", fm)
	}
	if len(fm.Instructions) != 1 || fm.Instructions[0].Actions[0].Port != 2 {
		t.Fatalf("instructions %+v", fm.Instructions)
	}
	if len(b)%8 != 0 {
		t.Fatalf("encoded flow-mod of %d bytes is not 8-byte aligned", len(b))
	}
	if del := f.FlowMod(openflow.FlowDeleteStrict); len(del.Instructions) != 0 || len(del.Match) != 2 {
		t.Fatalf("delete-strict carries instructions %+v", del)
	}
}

func TestParseIsTheInverseOfString(t *testing.T) {
	for _, f := range []Flow{
		Flow{Priority: 100, Match: Match{}.InPort(1).EthSrc(mac)}.Then(1),
		{Table: 1, Priority: 100, Match: Match{}.EthDst(mac), Actions: []Action{Output(2)}},
		{Table: 9, Priority: 5, Match: Match{}.EthType(0x0806), Actions: []Action{Flood(), ToController(), Output(3)}},
		{Table: 2},
	} {
		got, err := Parse(f.String())
		if err != nil {
			t.Fatal(err)
		}
		if got.Key() != f.Key() || !got.SameBehaviour(f) {
			t.Fatalf("parsed %q as %q", f, got)
		}
	}
	for _, bad := range []string{"table=1 priority=1", "table=300 actions=drop", "table=1,nw_tos=4 actions=drop", "table=1 actions=output:x", "table=1 actions=explode"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestMatchFromOXMsRoundTrip(t *testing.T) {
	m := Match{}.InPort(7).EthSrc(mac).EthDst(MAC{1, 2, 3, 4, 5, 6}).EthType(0x800)
	got, err := MatchFromOXMs(m.OXMs())
	if err != nil || got != m {
		t.Fatalf("got %v, %v; want %v", got, err, m)
	}
	if _, err := MatchFromOXMs([]openflow.OXM{{Class: openflow.OXMClassBasic, Field: openflow.OXMMetadata, Value: []byte{0, 0, 0, 0, 0, 0, 0, 4}}}); err == nil {
		t.Fatal("an unmodelled field converted")
	}
}

func TestTablesRefuseFieldsTheyDoNotAllow(t *testing.T) {
	p := Pipeline{0: {ID: 0, Name: "learn", Match: FieldInPort | FieldEthSrc}}
	if err := p.Check(Flow{Match: Match{}.InPort(1).EthSrc(mac)}); err != nil {
		t.Fatal(err)
	}
	err := p.Check(Flow{Match: Match{}.EthDst(mac)})
	if err == nil || !strings.Contains(err.Error(), "dl_dst") {
		t.Fatalf("got %v, want an error naming dl_dst", err)
	}
	if err := p.Check(Flow{Table: 4}); err == nil {
		t.Fatal("flow for a missing table accepted")
	}
}

func TestVLANMatchesAndActions(t *testing.T) {
	access := Flow{Priority: 100, Match: Match{}.InPort(1).Untagged(), Actions: []Action{PushVLAN(), SetVLAN(10)}}.Then(1)
	trunk := Flow{Table: 2, Priority: 100, Match: Match{}.VLAN(10).EthDst(mac), Actions: []Action{PopVLAN(), Output(1)}}
	for want, f := range map[string]Flow{
		"table=0, priority=100,in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid,goto_table:1": access,
		"table=2, priority=100,dl_dst=02:00:ac:10:7b:61,dl_vlan=10 actions=pop_vlan,output:1":                                   trunk,
	} {
		if got := f.String(); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
		parsed, err := Parse(f.String())
		if err != nil || parsed.Key() != f.Key() || !parsed.SameBehaviour(f) {
			t.Errorf("parse %q: %v, %v", f, parsed, err)
		}
		m, err := MatchFromOXMs(f.Match.OXMs())
		if err != nil || m != f.Match {
			t.Errorf("match round trip of %q: %v, %v", f, m, err)
		}
		// Encoded instructions parse back as the same actions.
		ins, err := openflow.ParseInstructions(f.InstructionBytes())
		if err != nil || len(ins[0].Actions) != len(f.Actions) {
			t.Errorf("instructions of %q: %+v, %v", f, ins, err)
		}
	}
	if (Match{}).VLAN(10) == (Match{}).VLAN(20) || (Match{}).VLAN(10) == (Match{}).Untagged() {
		t.Fatal("different VLAN matches compare equal")
	}
	if _, err := Parse("table=0 actions=set_field:10->vlan_vid"); err == nil {
		t.Fatal("a vlan_vid without the present bit parsed")
	}
}
