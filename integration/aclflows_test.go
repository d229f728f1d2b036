package integration

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/openflow"
)

// fixedFlowsApp declares fixed flows in three tables that allow every
// field. The round-trip tests are about the flow package's IP, L4, ICMP,
// conntrack and tunnel forms against OVS, not any app's pipeline, whose
// tables allow only the fields their own flows use.
type fixedFlowsApp struct {
	name  string
	id    flow.AppID
	flows []flow.Flow
}

func (a fixedFlowsApp) Name() string                  { return a.name }
func (a fixedFlowsApp) ID() flow.AppID                { return a.id }
func (fixedFlowsApp) SwitchDown(apps.Context, uint64) {}
func (a fixedFlowsApp) SwitchUp(ctx apps.Context, sw apps.Switch) {
	ctx.Set(sw.DPID, "fixed", a.flows...)
}
func (a fixedFlowsApp) Tables() []flow.Table {
	all := flow.FieldInPort | flow.FieldEthSrc | flow.FieldEthDst | flow.FieldEthType | flow.FieldVLAN |
		flow.FieldIPProto | flow.FieldIPSrc | flow.FieldIPDst | flow.FieldL4Src | flow.FieldL4Dst |
		flow.FieldICMPType | flow.FieldICMPCode | flow.FieldCTState | flow.FieldTunID | flow.FieldTunSrc
	var ts []flow.Table
	for id := uint8(0); id < 3; id++ {
		ts = append(ts, flow.Table{ID: id, Name: fmt.Sprintf("%s-%d", a.name, id), Owner: a.name, Miss: flow.MissDrop, Match: all})
	}
	return ts
}

// aclCase is a flow and how ovs-ofctl dump-flows shows it: OVS's own
// normalisations (shorthands like tcp6, /32 and /128 dropped, ct_state
// before the protocol) are spelled out here.
type aclCase struct {
	flow flow.Flow
	ovs  string // "priority=...,<match> actions=..."
}

func aclCases() []aclCase {
	ip4, ip6 := flow.Match{}.EthType(0x0800), flow.Match{}.EthType(0x86dd)
	pfx := netip.MustParsePrefix
	return []aclCase{
		{flow.Flow{Priority: 300, Match: ip4.IPProto(6).IPSrc(pfx("10.0.0.0/24")).IPDst(pfx("10.1.2.3/32")).L4Dst(0x1f90, 0xfff0)}.Then(1),
			"priority=300,tcp,nw_src=10.0.0.0/24,nw_dst=10.1.2.3,tp_dst=0x1f90/0xfff0 actions=goto_table:1"},
		{flow.Flow{Priority: 301, Match: ip6.IPProto(17).IPSrc(pfx("2001:db8::/64")).L4Src(53, 0xffff)},
			"priority=301,udp6,ipv6_src=2001:db8::/64,tp_src=53 actions=drop"},
		{flow.Flow{Priority: 302, Match: ip4.IPProto(1).ICMPType(8).ICMPCode(0)}.Then(2),
			"priority=302,icmp,icmp_type=8,icmp_code=0 actions=goto_table:2"},
		{flow.Flow{Priority: 303, Match: ip6.IPProto(58).ICMPType(128).ICMPCode(0)},
			"priority=303,icmp6,icmp_type=128,icmp_code=0 actions=drop"},
		{flow.Flow{Priority: 304, Match: ip6.IPProto(132).IPDst(pfx("2001:db8::1/128")).L4Dst(5000, 0xffff)},
			"priority=304,sctp6,ipv6_dst=2001:db8::1,tp_dst=5000 actions=drop"},
		{flow.Flow{Priority: 310, Match: ip4.CTState(0, flow.CTTrk), Actions: []flow.Action{flow.CT(false, 10, 1)}},
			"priority=310,ct_state=-trk,ip actions=ct(table=1,zone=10)"},
		{flow.Flow{Table: 1, Priority: 320, Match: ip4.CTState(flow.CTEst|flow.CTTrk, flow.CTEst|flow.CTTrk)}.Then(2),
			"priority=320,ct_state=+est+trk,ip actions=goto_table:2"},
		{flow.Flow{Table: 1, Priority: 321, Match: ip4.CTState(flow.CTNew|flow.CTTrk, flow.CTNew|flow.CTTrk),
			Actions: []flow.Action{flow.CT(true, 10, flow.NoRecirc)}}.Then(2),
			"priority=321,ct_state=+new+trk,ip actions=ct(commit,zone=10),goto_table:2"},
		{flow.Flow{Table: 1, Priority: 322, Match: ip4.CTState(flow.CTInv|flow.CTTrk, 0xffffffff)},
			"priority=322,ct_state=inv|trk,ip actions=drop"},
		{flow.Flow{Table: 1, Priority: 323, Match: ip6.IPProto(6).L4Src(0x400, 0xfc00).CTState(0, flow.CTTrk),
			Actions: []flow.Action{flow.CT(true, 10, 2)}},
			"priority=323,ct_state=-trk,tcp6,tp_src=0x400/0xfc00 actions=ct(commit,table=2,zone=10)"},
	}
}

// aclLoom runs a controller in the test with app, verifying every 300 ms,
// and logging into a hook the test reads.
func aclLoom(t *testing.T, dir string, app apps.App) (*controller.Controller, *test.Hook, string) {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	ctl, err := controller.New(controller.Config{Log: log, VerifyInterval: 300 * time.Millisecond,
		OpenFlow: openflow.Config{EchoInterval: time.Second}}, app)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "acl.sock")
	l, err := controller.Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { ctl.Serve(ctx, l); close(served) }()
	t.Cleanup(func() { cancel(); <-served })
	return ctl, hook, sock
}

func logText(h *test.Hook) string {
	var b strings.Builder
	for _, e := range h.AllEntries() {
		s, _ := e.String()
		b.WriteString(s)
	}
	return b.String()
}

// wireFlows dumps br's flows over OpenFlow, through its management socket,
// to see the bytes OVS reports rather than ovs-ofctl's rendering of them.
func wireFlows(t *testing.T, br *harness.Bridge) []openflow.FlowStats {
	t.Helper()
	nc, err := net.Dial("unix", filepath.Join(br.H.RunDir, br.Name+".mgmt"))
	if err != nil {
		t.Fatal(err)
	}
	c := openflow.NewConn(nc, openflow.Config{EchoInterval: time.Second})
	defer c.Close()
	if _, err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	go c.Serve(func(openflow.Message) {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, err := c.Multipart(ctx, openflow.MultipartRequest{MPType: openflow.MultipartFlow,
		Body: openflow.FlowStatsRequestBody(openflow.TableAll, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := openflow.ParseFlowStats(body)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// IP prefixes, L4 port ranges, ICMP, ct_state and ct come back from OVS in
// a form the reconciler recognises: the flows are installed once, and
// verify passes find nothing to repair.
func TestACLFlowsRoundTripThroughOVS(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	br := lab.Hypervisor("hv1").AddBridge("vswitch02", 0xc1)
	cases := aclCases()
	app := fixedFlowsApp{name: "acltest", id: 99}
	for _, c := range cases {
		app.flows = append(app.flows, c.flow)
	}
	ctl, hook, sock := aclLoom(t, lab.Dir(), app)
	br.SetController("unix:" + sock)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}

	// (a) Every flow is on the switch, as OVS spells it; what OVS reports
	// on the wire reads back as the very flow Loom declared.
	waitForDumpedFlows(t, br, hook, cases)
	checkWireReadBack(t, br, cases)
	// (b) Several verify passes later nothing was rewritten.
	checkNoDrift(t, ctl, hook, 2*time.Second)
}
