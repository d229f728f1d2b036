package controller

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/store"
)

// sharedMem is a shared store in memory with the Etcd store's
// LoadDesiredSwitch (what a new master reads at takeover).
type sharedMem struct {
	mu sync.Mutex
	m  map[string]store.DesiredChange
	// notMaster drops the apps' (non-external) changes, as the Etcd
	// store's guard does when this instance is not the switch's master.
	notMaster bool
}

func newSharedMem() *sharedMem { return &sharedMem{m: map[string]store.DesiredChange{}} }

func (s *sharedMem) k(c store.DesiredChange) string {
	return fmt.Sprintf("%016x/%s/%s", c.DPID, c.App, c.Key)
}

func (s *sharedMem) SaveDesired(changes []store.DesiredChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		if s.notMaster && c.App != store.ExternalApp {
			continue
		}
		if c.Delete {
			delete(s.m, s.k(c))
		} else {
			s.m[s.k(c)] = c
		}
	}
	return nil
}

func (s *sharedMem) LoadDesired(fn func(store.DesiredChange) error) error {
	return s.load(func(store.DesiredChange) bool { return true }, fn)
}

func (s *sharedMem) LoadDesiredSwitch(dpid uint64, fn func(store.DesiredChange) error) error {
	return s.load(func(c store.DesiredChange) bool { return c.DPID == dpid }, fn)
}

func (s *sharedMem) load(keep func(store.DesiredChange) bool, fn func(store.DesiredChange) error) error {
	s.mu.Lock()
	var cs []store.DesiredChange
	for _, c := range s.m {
		if keep(c) {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *sharedMem) SaveTopology([]byte) error     { return nil }
func (s *sharedMem) LoadTopology() ([]byte, error) { return nil, nil }
func (s *sharedMem) SaveNetworks([]byte) error     { return nil }
func (s *sharedMem) LoadNetworks() ([]byte, error) { return nil, nil }
func (s *sharedMem) Close() error                  { return nil }

// Found by attack, fixed: restoreSwitch merges the shared store's
// declarations into this instance's desired state instead of replacing
// the switch's: a declaration this instance holds (loaded at start-up by
// Restore, or its own from an earlier mastership) that the previous
// master has since withdrawn survives the takeover, and the new master
// installs it again — a flow the previous master deleted (a learned MAC
// that moved or aged out, a port-security pass flow) comes back, and
// the takeover sends flow-mods although nothing changed.
func TestAttackTakeoverResurrectsWithdrawnDeclaration(t *testing.T) {
	fc := &fakeCluster{roles: map[uint64]func(cluster.Role){}}
	shared := newSharedMem()
	// The previous master (another instance) declared two keys on 0xc1.
	shared.SaveDesired([]store.DesiredChange{
		{DPID: 0xc1, App: "one", Key: "k", Flows: []string{"table=0,priority=7,actions=output:1"}},
		{DPID: 0xc1, App: "one", Key: "old", Flows: []string{"table=0,priority=9,actions=output:2"}},
	})
	r := newRigWith(t, logrus.DebugLevel, func(c *Config) { c.Cluster = fc; c.Store = shared }, oneFlow{})
	// loomd's start-up: every declaration of the shared store is loaded.
	if err := r.ctl.Restore(); err != nil {
		t.Fatal(err)
	}
	// Later the previous master withdraws "old" (its store write lands;
	// this instance, a slave, is not told: only external declarations
	// are watched).
	shared.SaveDesired([]store.DesiredChange{{DPID: 0xc1, App: "one", Key: "old", Delete: true}})

	sw := fakeswitchStart(r, 0xc1)
	r.eventually("the session reached the cluster", func() bool { return fc.reached(0xc1) })
	// The previous master dies: this instance is elected.
	fc.tell(0xc1, cluster.Role{Mine: true, Generation: 7, Holder: "me"})
	r.eventually("the flows installed as master", func() bool { return len(sw.FlowMods()) > 0 || sw.Table.Counts().Bundles > 0 })
	time.Sleep(200 * time.Millisecond)
	for _, e := range sw.Table.Entries() {
		if e.Table == 0 && e.Priority == 9 {
			t.Fatalf("the new master installed %+v: a declaration the previous master withdrew (not in the shared store) "+
				"survived restoreSwitch, which merges instead of replacing the switch's declarations", e)
		}
	}
}

// ovsRoles sits between the controller and a fake switch and answers
// MASTER/SLAVE role requests as OVS's connmgr does: a generation id older
// (by signed difference) than the bridge's last one is refused as
// OFPRRFC_STALE; the bridge remembers its generation for as long as
// ovs-vswitchd runs, whatever controller set it.
func ovsRoles(t *testing.T, ctl net.Conn, sw net.Conn, gen uint64) {
	var wmu sync.Mutex
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = ctl.Write(b)
	}
	go func() { // switch -> controller
		buf := make([]byte, 1<<16)
		for {
			n, err := sw.Read(buf)
			if n > 0 {
				write(append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				ctl.Close()
				return
			}
		}
	}()
	go func() { // controller -> switch
		defer sw.Close()
		for {
			h := make([]byte, 8)
			if _, err := io.ReadFull(ctl, h); err != nil {
				return
			}
			msg := make([]byte, binary.BigEndian.Uint16(h[2:]))
			copy(msg, h)
			if _, err := io.ReadFull(ctl, msg[8:]); err != nil {
				return
			}
			if msg[1] == openflow.TypeRoleRequest && len(msg) >= 24 {
				role := binary.BigEndian.Uint32(msg[8:])
				g := binary.BigEndian.Uint64(msg[16:])
				if role == openflow.RoleMaster || role == openflow.RoleSlave {
					if int64(g-gen) < 0 {
						body := binary.BigEndian.AppendUint16(nil, uint16(openflow.ErrRoleRequestFailed))
						body = binary.BigEndian.AppendUint16(body, openflow.RoleStale)
						body = append(body, msg[:min(len(msg), 64)]...)
						e := []byte{openflow.Version, openflow.TypeError, 0, 0}
						e = append(e, msg[4:8]...)
						e = append(e, body...)
						binary.BigEndian.PutUint16(e[2:], uint16(len(e)))
						write(e)
						continue
					}
					gen = g
				}
			}
			if _, err := sw.Write(msg); err != nil {
				return
			}
		}
	}()
}

// Found by attack, fixed: a cluster's generation ids are etcd create
// revisions (small numbers), a standalone loomd's are its start time in
// Unix nanoseconds (controller.go: generation: time.Now().UnixNano()).
// OVS keeps a bridge's last generation for as long as ovs-vswitchd runs.
// So on a fleet that ran standalone loomd (or a cluster whose etcd was
// rebuilt: revisions restart at 1), every cluster instance's MASTER
// request is refused as stale, takeOver logs once and returns without a
// retry, and the cluster believes the switch mastered: nobody writes its
// flows or hears its packet-ins until ovs-vswitchd restarts.
func TestAttackClusterGenerationStaleAfterStandalone(t *testing.T) {
	fc := &fakeCluster{roles: map[uint64]func(cluster.Role){}}
	r := newRigWith(t, logrus.DebugLevel, func(c *Config) { c.Cluster = fc }, oneFlow{})
	swEnd, proxyEnd := net.Pipe()
	ovsRoles(t, r.dial(), proxyEnd, uint64(time.Now().Add(-time.Hour).UnixNano())) // a standalone loomd started an hour ago
	fakeswitch.Start(swEnd, 0xc1, port(1, "p1"))
	t.Cleanup(func() { swEnd.Close() })
	r.waitConnected(0xc1)
	r.eventually("the session reached the cluster", func() bool { return fc.reached(0xc1) })
	fc.tell(0xc1, cluster.Role{Mine: true, Generation: 7, Holder: "me"})
	deadline := time.Now().Add(3 * time.Second)
	for r.ctl.passive(0xc1) {
		if time.Now().After(deadline) {
			t.Fatalf("the elected master is still passive 3s after its election: its generation 7 (an etcd revision) is "+
				"older than the UnixNano generation a standalone loomd left on the bridge; logs: %v", r.logLines("newer master generation"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Found by attack, fixed: a master that loses etcd for a moment (more
// than 2/3 of the lease, less than all of it) stands by; its apps keep
// declaring (ticks, port changes run on a passive session too), and the
// store drops those writes for good (saveGuarded: not master, counted as
// written, never retried). When etcd answers again the same candidacy
// makes it master again and takeOver's restoreSwitch overwrites the
// newer in-memory declaration with the store's older one: the switch
// keeps the old flow, and the app's latest declaration is lost on every
// instance, with nothing left to say so.
func TestAttackTakeoverRevertsChangesDeclaredWhileStandingBy(t *testing.T) {
	fc := &fakeCluster{roles: map[uint64]func(cluster.Role){}}
	shared := newSharedMem()
	r := newRigWith(t, logrus.DebugLevel, func(c *Config) { c.Cluster = fc; c.Store = shared }, oneFlow{})
	sw := fakeswitchStart(r, 0xc1)
	r.eventually("the session reached the cluster", func() bool { return fc.reached(0xc1) })
	fc.tell(0xc1, cluster.Role{Mine: true, Generation: 7, Holder: "me"})
	r.eventually("master, and the flow stored", func() bool {
		if _, led := r.ctl.ledWith.Load(uint64(0xc1)); !led {
			return false
		}
		shared.mu.Lock()
		defer shared.mu.Unlock()
		return len(shared.m) > 0
	})

	// etcd goes quiet: this instance stands by (its lease still holds).
	shared.mu.Lock()
	shared.notMaster = true
	shared.mu.Unlock()
	fc.tell(0xc1, cluster.Role{Generation: 7, Holder: "me", Why: "lost contact with etcd"})
	// Meanwhile the app re-declares its flow (say, after a port change).
	r.ctl.desired.set(0xc1, owner{"one", "k"}, 43, []flow.Flow{{Table: 0, Priority: 7, Actions: []flow.Action{flow.Output(3)}}})
	time.Sleep(200 * time.Millisecond) // the persister tried, and the store dropped it
	// etcd is back, the same lease and candidacy: master again.
	shared.mu.Lock()
	shared.notMaster = false
	shared.mu.Unlock()
	fc.tell(0xc1, cluster.Role{Mine: true, Generation: 7, Holder: "me"})
	r.eventually("master again", func() bool { return !r.ctl.passive(0xc1) })
	time.Sleep(200 * time.Millisecond)
	for _, e := range sw.Table.Entries() {
		if e.Table == 0 && e.Priority == 7 {
			if len(e.Instructions) == 0 || len(e.Instructions[0].Actions) == 0 || e.Instructions[0].Actions[0].Port != 3 {
				t.Fatalf("after the takeover the switch has %+v: the app's latest declaration (output:3) was reverted "+
					"by restoreSwitch to the store's older one", e)
			}
			return
		}
	}
	t.Fatal("no priority-7 flow on the switch")
}
