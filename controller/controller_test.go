package controller

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
)

type rig struct {
	t    testing.TB
	ctl  *Controller
	addr string
	logs *test.Hook
	stop func()
}

func newRig(t *testing.T, appList ...apps.App) *rig {
	t.Helper()
	return newRigLevel(t, logrus.DebugLevel, appList...)
}

// newRigQuiet logs warnings only, for benchmarks.
func newRigQuiet(t testing.TB, appList ...apps.App) *rig {
	return newRigLevel(t, logrus.WarnLevel, appList...)
}

func newRigLevel(t testing.TB, level logrus.Level, appList ...apps.App) *rig {
	t.Helper()
	return newRigWith(t, level, nil, appList...)
}

// newRigWith is newRigLevel with the config changed by tweak first.
func newRigWith(t testing.TB, level logrus.Level, tweak func(*Config), appList ...apps.App) *rig {
	t.Helper()
	baseline := runtime.NumGoroutine()
	log, hook := test.NewNullLogger()
	log.SetLevel(level)
	cfg := Config{Log: log, OpenFlow: openflow.Config{EchoInterval: 200 * time.Millisecond, HelloTimeout: 300 * time.Millisecond}}
	if tweak != nil {
		tweak(&cfg)
	}
	ctl, err := New(cfg, appList...)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "of.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ctl.Serve(ctx, l) }()
	r := &rig{t: t, ctl: ctl, addr: sock, logs: hook}
	r.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		ctl.Close()
		// Every session and connection goroutine must be gone.
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > baseline {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-baseline, buf[:runtime.Stack(buf, true)])
		}
	})
	t.Cleanup(r.stop)
	return r
}

func (r *rig) dial() net.Conn { return r.dialB(r.t) }

func (r *rig) dialB(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (r *rig) connect(dpid uint64, ports ...openflow.Port) *fakeswitch.Switch {
	r.t.Helper()
	sw := fakeswitch.Start(r.dial(), dpid, ports...)
	r.waitConnected(dpid)
	// Setup ends with the commit of the initial bundle, after its barrier.
	r.eventually("initial bundle committed", func() bool { return sw.Table.Counts().Bundles == 1 })
	return sw
}

func (r *rig) waitConnected(dpid uint64) {
	r.t.Helper()
	r.eventually("switch connected", func() bool {
		for _, d := range r.ctl.Switches() {
			if d == dpid {
				return true
			}
		}
		return false
	})
}

func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logLines returns the messages logged at warn or above that mention s.
func (r *rig) logLines(s string) []string {
	var out []string
	for _, e := range r.logs.AllEntries() {
		line, _ := e.String()
		if e.Level <= logrus.WarnLevel && strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

func port(no uint32, name string) openflow.Port {
	return openflow.Port{No: no, Name: name, HWAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(no)}}
}

func frame(dst, src flow.MAC) []byte {
	f := append(append(append([]byte(nil), dst[:]...), src[:]...), 0x08, 0x00)
	return append(f, make([]byte, 46)...)
}

var (
	macA = flow.MAC{2, 0, 0, 0, 0xa, 1}
	macB = flow.MAC{2, 0, 0, 0, 0xb, 2}
)

func TestHandshakeInstallsTableMisses(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"), port(2, "vm2"))
	var types []uint8
	for _, h := range sw.Received() {
		types = append(types, h.Type)
	}
	// Handshake, the MASTER role request (answered while PORT_DESC
	// goes out), bundle probe (open, discard), flow dump, then the two
	// table-miss flows in one bundle (open, add, add), a barrier to learn
	// whether an add was refused, and the commit.
	exp := uint8(openflow.TypeExperimenter)
	want := []uint8{openflow.TypeHello, openflow.TypeFeaturesRequest, openflow.TypeRoleRequest, openflow.TypeMultipartReq, openflow.TypeSetConfig,
		exp, exp, openflow.TypeMultipartReq, exp, exp, exp, openflow.TypeBarrierRequest, exp}
	if len(types) < len(want) {
		t.Fatalf("switch received %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("message %d is %s, want %s (all: %v)", i, openflow.TypeName(types[i]), openflow.TypeName(want[i]), types)
		}
	}
	fms := sw.FlowMods()
	for _, fm := range fms {
		if c := flow.Cookie(fm.Cookie); !c.IsLoom() || c.App() != l2.ID || fm.Priority != 0 {
			t.Fatalf("table-miss flow-mod %+v: cookie %v is not l2's", fm, c)
		}
	}
	if fms[0].TableID == fms[1].TableID {
		t.Fatalf("both table-miss flows in table %d", fms[0].TableID)
	}
}

func TestPacketInLearnsThenResubmits(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"), port(2, "vm2"))
	before := len(sw.FlowMods())
	missCookie := uint64(sw.FlowMods()[0].Cookie)
	sw.Send(fakeswitch.PacketIn(100, 0, missCookie, 1, frame(macB, macA)))
	r.eventually("packet-out", func() bool { return len(sw.PacketOuts()) == 1 })

	fms := sw.FlowMods()[before:]
	if len(fms) != 2 {
		t.Fatalf("%d flow-mods after the packet-in, want 2 (learn + forward)", len(fms))
	}
	// Flow-mods precede the packet-out, so the resubmitted packet meets them.
	hs := sw.Received()
	last := hs[len(hs)-1]
	if last.Type != openflow.TypePacketOut {
		t.Fatalf("last message %s, want the packet-out after the flow-mods", openflow.TypeName(last.Type))
	}
	if p, ok := findApp(r).Lookup(0xc1, macA); !ok || p != 1 {
		t.Fatalf("macA learned on %d,%v; want port 1", p, ok)
	}
	// The same source again changes nothing.
	sw.Send(fakeswitch.PacketIn(101, 0, missCookie, 1, frame(macB, macA)))
	r.eventually("second packet-out", func() bool { return len(sw.PacketOuts()) == 2 })
	if n := len(sw.FlowMods()) - before; n != 2 {
		t.Fatalf("relearning the same MAC sent %d more flow-mods", n-2)
	}
}

func findApp(r *rig) *l2.App { return r.ctl.apps[0].(*l2.App) }

func TestEventsKeepOrderPerSwitch(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"))
	before := len(sw.FlowMods())
	const n = 50
	for i := 0; i < n; i++ {
		src := flow.MAC{2, 0, 0, 1, 0, byte(i)}
		sw.Send(fakeswitch.PacketIn(uint32(1000+i), 0, 0, 1, frame(macB, src)))
	}
	r.eventually("all packet-outs", func() bool { return len(sw.PacketOuts()) == n })
	fms := sw.FlowMods()[before:]
	for i := 0; i < n; i++ {
		var src []byte
		for _, o := range fms[2*i].Match {
			if o.Field == openflow.OXMEthSrc {
				src = o.Value
			}
		}
		if len(src) != 6 || src[5] != byte(i) {
			t.Fatalf("flow-mod pair %d learns %x, want the MAC of packet-in %d", i, src, i)
		}
	}
}

func TestPortDownForgetsItsMACs(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1, port(1, "vm1"), port(2, "vm2"))
	sw.Send(fakeswitch.PacketIn(100, 0, 0, 1, frame(macB, macA)))
	r.eventually("learned", func() bool { _, ok := findApp(r).Lookup(0xc1, macA); return ok })
	before := len(sw.FlowMods())
	down := port(1, "vm1")
	down.State = openflow.PortStateLinkDown
	sw.Send(fakeswitch.PortStatus(200, openflow.PortReasonModify, down))
	r.eventually("two delete-strict flow-mods", func() bool {
		dels := 0
		for _, fm := range sw.FlowMods()[before:] {
			if fm.Command == openflow.FlowDeleteStrict {
				dels++
			}
		}
		return dels == 2
	})
	if _, ok := findApp(r).Lookup(0xc1, macA); ok {
		t.Fatal("MAC behind a down port is still known")
	}
}

func TestSecondConnectionForLiveDPIDIsRefused(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	first := r.connect(0xc1, port(1, "vm1"))
	second := fakeswitch.Start(r.dial(), 0xc1, port(1, "vm1"))
	select {
	case <-second.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("second connection for a live dpid was not closed")
	}
	select {
	case <-first.Done():
		t.Fatal("the live connection was kicked off")
	default:
	}
	r.eventually("one log line about the refusal", func() bool { return len(r.logLines("already connected")) == 1 })
}

func TestDeadHolderIsReplaced(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	first := r.connect(0xc1, port(1, "vm1"))
	first.Mute()
	second := fakeswitch.Start(r.dial(), 0xc1, port(1, "vm1"))
	r.eventually("new connection installed flows", func() bool { return len(second.FlowMods()) >= 2 })
	select {
	case <-second.Done():
		t.Fatal("replacement connection closed")
	default:
	}
}

func TestSilentSwitchIsDropped(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	sw := r.connect(0xc1)
	sw.Mute()
	r.eventually("silent switch dropped", func() bool { return len(r.ctl.Switches()) == 0 })
}

func TestMalformedPeersAreDroppedAlone(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}))
	good := r.connect(0xc1, port(1, "vm1"), port(2, "vm2"))
	hello := openflow.Encode(openflow.HelloMsg{}, 1)
	for name, bytes := range map[string][]byte{
		"length 0":     {4, 0, 0, 0, 0, 0, 0, 1},
		"length 7":     {4, 0, 0, 7, 0, 0, 0, 1},
		"version 1.0":  {1, 0, 0, 8, 0, 0, 0, 1},
		"no hello":     nil,
		"unknown type": append(hello, 4, 99, 0, 8, 0, 0, 0, 2),
		"truncated":    append(hello, 4, 10, 0, 200, 0, 0, 0, 2, 1, 2, 3),
		"zero-len oxm": append(hello, fakeswitch.PacketIn(3, 0, 0, 1, nil)[:24]...),
		"length 65535": append(hello, 4, 10, 0xff, 0xff, 0, 0, 0, 2),
	} {
		t.Run(name, func(t *testing.T) {
			before := len(r.logs.AllEntries())
			c := r.dial()
			c.Write(bytes)
			if name == "truncated" || name == "length 65535" {
				c.(*net.UnixConn).CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					break // closed by Loom (or the deadline: checked below)
				}
			}
			r.eventually("one log line", func() bool { return len(r.logs.AllEntries()) > before })
			time.Sleep(20 * time.Millisecond)
			if n := len(r.logs.AllEntries()) - before; n != 1 {
				t.Fatalf("%d log lines for one bad peer, want 1: %v", n, r.logs.AllEntries()[before:])
			}
		})
	}
	// The real switch kept its session throughout.
	select {
	case <-good.Done():
		t.Fatal("good switch disconnected")
	default:
	}
	if len(r.ctl.Switches()) != 1 {
		t.Fatalf("switches %v, want the good one", r.ctl.Switches())
	}
}

type panicky struct{}

func (panicky) Name() string                                 { return "panicky" }
func (panicky) ID() flow.AppID                               { return 9 }
func (panicky) Tables() []flow.Table                         { return nil }
func (panicky) PacketIn(ctx apps.Context, pkt apps.PacketIn) { panic("boom") }

func TestPanickingAppDoesNotKillTheSession(t *testing.T) {
	r := newRig(t, l2.New(l2.Options{}), panicky{})
	sw := r.connect(0xc1, port(1, "vm1"))
	sw.Send(fakeswitch.PacketIn(100, 0, 0, 1, frame(macB, macA))) // foreign cookie: every app gets it
	r.eventually("panic logged", func() bool { return len(r.logLines("panicked")) == 1 })
	r.eventually("l2 still served it", func() bool { return len(sw.PacketOuts()) == 1 })
}

func TestDuplicateAppsAreRejected(t *testing.T) {
	if _, err := New(Config{}, l2.New(l2.Options{}), l2.New(l2.Options{})); err == nil {
		t.Fatal("two apps with one name accepted")
	}
}
