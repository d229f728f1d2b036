package controller

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
)

// refreshCounter counts Refresh turns per switch.
type refreshCounter struct {
	turns map[uint64]*atomic.Int32
}

func (refreshCounter) Name() string         { return "counter" }
func (refreshCounter) ID() flow.AppID       { return 9 }
func (refreshCounter) Tables() []flow.Table { return nil }
func (r refreshCounter) Refresh(_ apps.Context, sw apps.Switch) {
	if n, ok := r.turns[sw.DPID]; ok {
		n.Add(1)
	}
}

// stuckInSetup is a peer that answers HELLO and FEATURES, then nothing: a
// switch whose setup hangs until the request timeout.
func stuckInSetup(t *testing.T, c net.Conn, dpid uint64) {
	t.Helper()
	c.Write(openflow.Encode(openflow.HelloMsg{}, 1))
	go func() {
		f := openflow.NewFramer(c, openflow.MaxMessageLen)
		for {
			raw, err := f.Next()
			if err != nil {
				return
			}
			h := openflow.ParseHeader(raw)
			if h.Type == openflow.TypeFeaturesRequest {
				body := make([]byte, 24)
				binary.BigEndian.PutUint64(body, dpid)
				body[12] = 254
				msg := make([]byte, 8+len(body))
				msg[0], msg[1] = openflow.Version, openflow.TypeFeaturesReply
				binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
				binary.BigEndian.PutUint32(msg[4:], h.Xid)
				copy(msg[8:], body)
				c.Write(msg)
			}
		}
	}()
}

// A policy change (Refresh) neither waits for nor skips for good a switch
// still in setup: it returns while the switch hangs, and the switch gets
// its turn once it is ready. API lookups do not see it meanwhile.
func TestRefreshDoesNotWaitForSwitchInSetup(t *testing.T) {
	turns := map[uint64]*atomic.Int32{0xa: {}, 0xb: {}}
	r := newRig(t, refreshCounter{turns: turns})
	fakeswitchStart(r, 0xa)
	stuckInSetup(t, r.dial(), 0xb)
	r.eventually("0xb claimed and in setup", func() bool { return r.ctl.reg.settingUp() == 1 })

	r.ctl.Refresh()
	if r.ctl.reg.settingUp() != 1 {
		t.Fatal("Refresh returned only after the stuck switch's setup ended: it waited for it")
	}
	if turns[0xa].Load() != 1 {
		t.Fatalf("the ready switch had %d refresh turns, want 1", turns[0xa].Load())
	}
	if r.ctl.reg.get(0xb) != nil {
		t.Fatal("a switch in setup is visible to API lookups before its reconciler exists")
	}
	if len(r.ctl.Switches()) != 1 {
		t.Fatalf("switches listed: %v", r.ctl.Switches())
	}
}

func fakeswitchStart(r *rig, dpid uint64) *fakeswitch.Switch {
	r.t.Helper()
	sw := fakeswitch.Start(r.dial(), dpid, port(1, "p1"))
	r.waitConnected(dpid)
	return sw
}
