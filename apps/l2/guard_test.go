package l2

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

// logCtx is apptest's context with the log lines kept.
type logCtx struct {
	*apptest.Ctx
	log  *logrus.Logger
	hook *logtest.Hook
}

func newLogCtx() *logCtx {
	l, h := logtest.NewNullLogger()
	return &logCtx{Ctx: apptest.New(), log: l, hook: h}
}

func (c *logCtx) Log() *logrus.Entry { return logrus.NewEntry(c.log) }

func (c *logCtx) lines() []string {
	var out []string
	for _, e := range c.hook.AllEntries() {
		out = append(out, e.Message)
	}
	return out
}

// keys returns the declared keys with a prefix.
func (c *logCtx) keys(prefix string) []string {
	var out []string
	for k := range c.Flows {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return sortStrings(out)
}

func (c *logCtx) text(key string) string {
	return apptest.Text(map[string][]flow.Flow{key: c.Flows[key]})
}

// vmTopology has switch 1 with VM ports 5 (vm1, 02:00:00:00:00:05) and 6
// (vm2, 02:00:00:00:00:06) and an uplink, port 7.
func vmTopology() *topology.Topology {
	top := topology.New()
	top.SetHypervisors([]topology.Hypervisor{{Name: "hv"}})
	top.SwitchConnected(1, "unix:/x.sock", []topology.OFPort{{No: 5, Name: "vm1", Up: true}, {No: 6, Name: "vm2", Up: true}, {No: 7, Name: "uplink", Up: true}})
	setVMMACs(top, "02:00:00:00:00:05", "02:00:00:00:00:06")
	return top
}

func setVMMACs(top *topology.Topology, vm1, vm2 string) {
	top.OVSDBState("hv", "unix:/x", &ovsdb.Hypervisor{Bridges: []ovsdb.Bridge{{Name: "br", DPID: 1,
		Ports: []ovsdb.Port{{Name: "vm1", AttachedMAC: vm1}, {Name: "vm2", AttachedMAC: vm2}, {Name: "uplink"}}}}}, nil)
}

var vmSwitch = apps.Switch{DPID: 1, Ports: []apps.Port{{No: 5, Name: "vm1", Up: true}, {No: 6, Name: "vm2", Up: true}, {No: 7, Name: "uplink", Up: true}}}

// randomSource is a random unicast MAC.
func randomSource(rng *rand.Rand) flow.MAC {
	var m flow.MAC
	rng.Read(m[:])
	m[0] = m[0]&^1 | 2 // unicast, locally administered
	return m
}

func frameFrom(src flow.MAC) []byte {
	return append(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, src[:]...), 0x08, 0x00, 0x45)
}

// A VM forging 100,000 source MACs costs one flow, one log line and one
// summary per interval: the maps stay bounded, the drop is at the switch,
// it is withdrawn after the hold, and other ports learn as before.
func TestForgedSourcesFromAVMPortAreDroppedAtTheSwitch(t *testing.T) {
	a := New(Options{Topology: vmTopology(), SpoofHold: time.Minute})
	ctx := newLogCtx()
	a.SwitchUp(ctx, vmSwitch)
	start := ctx.T
	rng := rand.New(rand.NewSource(1))
	const forged = 100000
	for i := 0; i < forged; i++ {
		a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frameFrom(randomSource(rng))})
		if i%1000 == 999 {
			ctx.T = ctx.T.Add(50 * time.Millisecond) // 100,000 frames over 5s
		}
	}
	if len(ctx.Outs) != 0 {
		t.Fatalf("%d forged frames delivered", len(ctx.Outs))
	}
	if got := ctx.keys(""); len(got) != 1 || got[0] != "guard/5" {
		t.Fatalf("declared %v, want only guard/5", got)
	}
	want := "table=0, priority=40,in_port=5 actions=drop\n" +
		"table=0, priority=60,in_port=5,dl_src=02:00:00:00:00:05 actions=CONTROLLER:65535"
	if got := ctx.text("guard/5"); got != want {
		t.Fatalf("guard/5:\n%s\nwant:\n%s", got, want)
	}
	// Bounded: nothing per forged source anywhere.
	sg := a.guards[1]
	if len(a.tables[1]) != 0 || len(a.moves[1]) != 0 || len(a.guards) != 1 || len(sg.ports) != 1 || len(sg.ports[5].pass) != 0 || sg.passes != 0 {
		t.Fatalf("state grew: %d MACs, %d moves, %d switches guarded, %d ports, %d passes", len(a.tables[1]), len(a.moves[1]), len(a.guards), len(sg.ports), sg.passes)
	}
	if lines := ctx.lines(); len(lines) != 1 || !strings.HasPrefix(lines[0], "port 5 (vm1): frame from ") ||
		!strings.Contains(lines[0], "not the VM's own MAC (libvirt attached-mac 02:00:00:00:00:05); dropped, and the port's other sources dropped at the switch for 1m0s") {
		t.Fatalf("log lines %q, want one", lines)
	}
	if a.refused != forged || a.unlogged != forged-1 {
		t.Fatalf("counted %d refused, %d unlogged", a.refused, a.unlogged)
	}

	// A legit MAC on another port learns as ever, and so does the VM's own.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 7, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:77")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:05")})
	if ctx.Flows["mac/02:00:00:00:00:77"] == nil || ctx.Flows["mac/02:00:00:00:00:05"] == nil {
		t.Fatalf("legit MACs not learned:\n%s", ctx.Text())
	}

	// The summary, once the interval is over.
	ctx.T = start.Add(summaryEvery)
	a.Tick(ctx, vmSwitch)
	lines := ctx.lines()
	if len(lines) != 2 || lines[1] != "port 5 (vm1): 99,999 frames from forged source MACs dropped in the last 10s" {
		t.Fatalf("log lines %q", lines)
	}
	a.Tick(ctx, vmSwitch) // nothing more to say
	if len(ctx.lines()) != 2 {
		t.Fatalf("a second summary with nothing new: %q", ctx.lines())
	}

	// Held for the hold time, then withdrawn.
	ctx.T = start.Add(time.Minute - time.Second)
	a.Tick(ctx, vmSwitch)
	if ctx.Flows["guard/5"] == nil {
		t.Fatal("guard/5 withdrawn before its hold ended")
	}
	ctx.T = start.Add(time.Minute)
	a.Tick(ctx, vmSwitch)
	if ctx.Flows["guard/5"] != nil {
		t.Fatal("guard/5 still declared after its hold")
	}
	if len(a.guards) != 0 {
		t.Fatalf("state kept for a quiet port: %+v", a.guards[1].ports)
	}
	// Forging again blocks again.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frameFrom(randomSource(rng))})
	if ctx.Flows["guard/5"] == nil {
		t.Fatal("forging after the hold was not blocked again")
	}
}

// Random sources past max_macs: the first few are forwarded by the switch
// without learning, one flow each; past the per-port cap the port drops
// its unknown sources at the switch. Nothing grows per source.
func TestRandomSourcesPastMaxMACsStayBounded(t *testing.T) {
	a := New(Options{MaxMACs: 8, SpoofHold: 30 * time.Second})
	ctx := newLogCtx()
	sw := apps.Switch{DPID: 1, Ports: []apps.Port{{No: 3, Name: "trunk", Up: true}, {No: 4, Name: "eth1", Up: true}}}
	a.SwitchUp(ctx, sw)
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 100000; i++ {
		a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frameFrom(randomSource(rng))})
	}
	sg := a.guards[1]
	g := sg.ports[3]
	if len(a.tables[1]) != 8 || len(g.pass) != maxPassPerPort || sg.passes != maxPassPerPort || g.block == nil || len(sg.ports) != 1 {
		t.Fatalf("%d MACs, %d passes (%d on the switch), block %v, %d ports", len(a.tables[1]), len(g.pass), sg.passes, g.block, len(sg.ports))
	}
	if n := len(ctx.keys("mac/")); n != 8 {
		t.Fatalf("%d MACs declared, want max_macs 8", n)
	}
	if n := len(ctx.keys("guard/3/")); n != maxPassPerPort {
		t.Fatalf("%d pass flows declared on port 3, want %d", n, maxPassPerPort)
	}
	if got := ctx.text("guard/3"); got != "table=0, priority=40,in_port=3 actions=drop" {
		t.Fatalf("guard/3: %q", got)
	}
	pass := ctx.keys("guard/3/")[0]
	if got, src := ctx.text(pass), strings.TrimPrefix(pass, "guard/3/"); got != "table=0, priority=50,in_port=3,dl_src="+src+" actions=goto_table:1" {
		t.Fatalf("%s: %q", pass, got)
	}
	// One line for the first, one for the block.
	if lines := ctx.lines(); len(lines) != 2 || !strings.HasPrefix(lines[0], "port 3 (trunk): MAC table full (max_macs 8); ") ||
		!strings.HasSuffix(lines[0], " flooded without learning; the switch forwards it without learning for 30s") ||
		!strings.HasSuffix(lines[1], " flooded without learning; more unlearned sources on this port than Loom forwards one by one (16 per port, 256 per switch): its unknown sources are dropped at the switch for 30s") {
		t.Fatalf("log lines %q, want two", lines)
	}

	// Another port's new source is still forwarded without learning, and
	// a learned MAC still works.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:44")})
	if ctx.Flows["guard/4/02:00:00:00:00:44"] == nil || ctx.Flows["guard/4"] != nil {
		t.Fatalf("port 4 was caught by port 3's block:\n%s", strings.Join(ctx.keys("guard/4"), "\n"))
	}

	// The hold ends: every refusal is withdrawn, the state forgotten.
	ctx.T = ctx.T.Add(30 * time.Second)
	a.Tick(ctx, sw)
	if n := len(ctx.keys("guard/")); n != 0 {
		t.Fatalf("%d refusals declared after the hold", n)
	}
	if lines := ctx.lines(); len(lines) != 4 || lines[3] != "port 3 (trunk): 99,990 frames from unlearned source MACs flooded without learning (MAC table full) in the last 30s" {
		t.Fatalf("log lines %q", lines)
	}
	// Quiet for an interval after its summary: forgotten.
	ctx.T = ctx.T.Add(summaryEvery)
	a.Tick(ctx, sw)
	if len(a.guards) != 0 {
		t.Fatalf("state kept after the hold: %d ports", len(a.guards[1].ports))
	}
}

// Many ports each with a few refused sources: the switch-wide caps hold,
// ports past the pass cap drop their unknown sources, and ports past the
// port cap are counted, not tracked.
func TestRefusalsArePerSwitchBounded(t *testing.T) {
	a := New(Options{MaxMACs: 1})
	ctx := newLogCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 1, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")})
	rng := rand.New(rand.NewSource(3))
	const ports = 3000
	for p := uint32(2); p < ports+2; p++ {
		for i := 0; i < 3; i++ {
			a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: p, Data: frameFrom(randomSource(rng))})
		}
	}
	sg := a.guards[1]
	blocks := 0
	for _, g := range sg.ports {
		if g.block != nil {
			blocks++
		}
	}
	// 3 sources a port: 85 ports fit in the switch's 256 passes with 3
	// each, the 86th gets the last pass and a block, the rest a block.
	if len(sg.ports) != maxGuardedPorts || sg.passes != maxPassPerSwitch || blocks != maxGuardedPorts-maxPassPerSwitch/3 {
		t.Fatalf("%d ports tracked, %d passes, %d blocks", len(sg.ports), sg.passes, blocks)
	}
	if n := len(ctx.keys("guard/")); n != maxPassPerSwitch+blocks {
		t.Fatalf("%d refusals declared", n)
	}
	if sg.other.n == 0 {
		t.Fatal("frames on untracked ports were not counted")
	}
	if n := len(ctx.lines()); n > maxLinesPerEvery {
		t.Fatalf("%d log lines in one interval, budget %d", n, maxLinesPerEvery)
	}
	ctx.hook.Reset()
	ctx.T = ctx.T.Add(summaryEvery)
	a.Tick(ctx, apps.Switch{DPID: 1})
	lines := ctx.lines()
	if len(lines) > maxLinesPerEvery+1 || !strings.Contains(lines[len(lines)-1], "more frames refused in the last 10s on ports not logged one by one") {
		t.Fatalf("%d summary lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// A port that goes down or away takes its refusals with it: the port
// number may come back as another VM's.
func TestPortGoneWithdrawsItsRefusals(t *testing.T) {
	a := New(Options{Topology: vmTopology(), MaxMACs: 1})
	ctx := newLogCtx()
	a.SwitchUp(ctx, vmSwitch)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 7, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:71")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 7, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:72")})
	if ctx.Flows["guard/5"] == nil || ctx.Flows["guard/7/02:00:00:00:00:72"] == nil {
		t.Fatalf("refusals not declared: %v", ctx.keys(""))
	}
	a.PortChanged(ctx, 1, apps.PortDeleted, apps.Port{No: 5, Name: "vm1"})
	a.PortChanged(ctx, 1, apps.PortModified, apps.Port{No: 7, Name: "uplink", Up: false})
	if got := ctx.keys(""); len(got) != 0 {
		t.Fatalf("still declared after the ports went: %v", got)
	}
	if len(a.guards) != 0 || len(a.ports[1]) != 2 {
		t.Fatalf("state kept: %d switches guarded, ports %v", len(a.guards), a.ports[1])
	}
	// A reconnect without a port withdraws its refusals too.
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 6, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0b")})
	a.SwitchUp(ctx, apps.Switch{DPID: 1, Ports: []apps.Port{{No: 7, Up: true}}})
	if ctx.Flows["guard/6"] != nil || len(a.guards) != 0 {
		t.Fatal("a vanished port's refusal survived the reconnect")
	}
}

// Refusals outlive a disconnect, like every declaration, and a restart
// (restored, then held from the reconnect); their counters do not.
func TestRefusalsAcrossReconnectAndRestart(t *testing.T) {
	top := vmTopology()
	a := New(Options{Topology: top, SpoofHold: time.Minute})
	ctx := newLogCtx()
	a.SwitchUp(ctx, vmSwitch)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0b")})
	a.SwitchDown(ctx, 1)
	if ctx.Flows["guard/5"] == nil || a.guards[1].ports[5].win != ([nReasons]window{}) {
		t.Fatal("SwitchDown withdrew the block, or kept its counters")
	}
	ctx.T = ctx.T.Add(2 * time.Minute)
	a.SwitchUp(ctx, vmSwitch)
	if ctx.Flows["guard/5"] != nil || len(a.guards) != 0 {
		t.Fatal("a block whose hold ended while the switch was away survived its reconnect")
	}

	// A restart: the declarations come back through Restore.
	b := New(Options{Topology: top, SpoofHold: time.Minute})
	saved := map[string][]flow.Flow{
		"guard/5":                   b.blockFlows(5, &portBlock{own: mac(t, "02:00:00:00:00:05"), hasOwn: true}),
		"guard/7/02:00:00:00:00:71": {b.passFlow(7, mac(t, "02:00:00:00:00:71"))},
	}
	ctx = newLogCtx()
	for k, fs := range saved {
		b.Restore(1, k, fs)
		ctx.Flows[k] = fs
	}
	b.SwitchUp(ctx, vmSwitch)
	if len(ctx.keys("guard/")) != 2 {
		t.Fatalf("restored refusals withdrawn at once: %v", ctx.keys(""))
	}
	if got := ctx.text("guard/5"); got != apptest.Text(map[string][]flow.Flow{"": saved["guard/5"]}) {
		t.Fatalf("restored guard/5 redeclared as\n%s", got)
	}
	ctx.T = ctx.T.Add(time.Minute)
	b.Tick(ctx, vmSwitch)
	if got := ctx.keys(""); len(got) != 0 || len(b.guards) != 0 {
		t.Fatalf("restored refusals still declared after the hold: %v", got)
	}
}

// OVSDB reporting another MAC for a blocked VM port re-declares its block.
func TestRefreshFollowsTheVMsMAC(t *testing.T) {
	top := vmTopology()
	a := New(Options{Topology: top})
	ctx := newLogCtx()
	a.SwitchUp(ctx, vmSwitch)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	setVMMACs(top, "02:00:00:00:00:55", "02:00:00:00:00:06")
	a.Refresh(ctx, vmSwitch)
	want := "table=0, priority=40,in_port=5 actions=drop\n" +
		"table=0, priority=60,in_port=5,dl_src=02:00:00:00:00:55 actions=CONTROLLER:65535"
	if got := ctx.text("guard/5"); got != want {
		t.Fatalf("guard/5 after the VM's MAC changed:\n%s\nwant:\n%s", got, want)
	}
	// No longer a VM port with a MAC: the block goes.
	setVMMACs(top, "", "02:00:00:00:00:06")
	a.Refresh(ctx, vmSwitch)
	if ctx.Flows["guard/5"] != nil {
		t.Fatal("a spoofing block outlived the port's VM MAC")
	}
}

// A MAC held down on a second port is dropped without a flow (the
// hold-down must see it keep appearing) and logged once per interval.
func TestHeldDownFramesAreSummarised(t *testing.T) {
	a := New(Options{HoldDown: time.Hour})
	ctx := newLogCtx()
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 3, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	for i := 0; i < 5000; i++ {
		a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 4, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	}
	if len(ctx.keys("guard/")) != 0 || len(a.moves[1]) != 1 {
		t.Fatalf("held-down frames declared %v, %d move candidates", ctx.keys("guard/"), len(a.moves[1]))
	}
	ctx.T = ctx.T.Add(summaryEvery)
	a.Tick(ctx, apps.Switch{DPID: 1})
	lines := ctx.lines()
	if len(lines) != 2 || lines[0] != "port 4: 02:00:00:00:00:0a seen here while its port is up; held down, not moved (move_holddown 1h0m0s)" ||
		lines[1] != "port 4: 4,999 frames from MACs known on another port dropped (held down, not moved) in the last 10s" {
		t.Fatalf("log lines %q", lines)
	}
	// The candidate goes with its port.
	a.PortChanged(ctx, 1, apps.PortModified, apps.Port{No: 4, Up: false})
	if len(a.moves[1]) != 0 {
		t.Fatal("a move candidate outlived its port")
	}
}

func TestForgetSwitchDropsEverything(t *testing.T) {
	a := New(Options{Topology: vmTopology()})
	ctx := newLogCtx()
	a.SwitchUp(ctx, vmSwitch)
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 7, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:71")})
	a.PacketIn(ctx, apps.PacketIn{DPID: 1, InPort: 5, Data: frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:0a")})
	a.ForgetSwitch(1)
	if len(a.tables)+len(a.moves)+len(a.ports)+len(a.guards) != 0 {
		t.Fatalf("state kept for a forgotten switch: %s", a)
	}
}

func TestGrouped(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 5123: "5,123", 99999: "99,999", 1234567: "1,234,567"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
}

func ExampleApp_String() {
	a := New(Options{})
	fmt.Println(a)
	// Output: l2: 0 MACs on 0 switches; 0 ports refusing sources; 0 frames refused, 0 of them in summaries
}
