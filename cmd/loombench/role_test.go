package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loomsdn/loom/openflow"
)

// conns joins n connections (controllers 0..n-1) to a.
func conns(a *arbiter, n int) []*emu {
	var out []*emu
	for i := 0; i < n; i++ {
		e := &emu{ctl: i}
		a.join(e)
		out = append(out, e)
	}
	return out
}

func mustRole(t *testing.T, a *arbiter, e *emu, role uint32, gen uint64, wantRole uint32, wantGen uint64) {
	t.Helper()
	r, g, code, ok := a.request(e, role, gen)
	if !ok {
		t.Fatalf("role %d gen %d refused with code %d", role, gen, code)
	}
	if r != wantRole || g != wantGen {
		t.Fatalf("role %d gen %d: reply role %d gen %d, want %d gen %d", role, gen, r, g, wantRole, wantGen)
	}
}

func mustStale(t *testing.T, a *arbiter, e *emu, role uint32, gen uint64) {
	t.Helper()
	if _, _, code, ok := a.request(e, role, gen); ok || code != openflow.RoleStale {
		t.Fatalf("role %d gen %d: ok=%v code=%d, want refused as stale", role, gen, ok, code)
	}
}

// The generation check is OVS's: a MASTER or SLAVE request older than the
// switch's master_election_id (in wrap-around order) is stale and changes
// nothing; a newer or equal one moves the id.
func TestArbiterRefusesStaleGenerations(t *testing.T) {
	a := newArbiter(1)
	c := conns(a, 2)
	mustRole(t, a, c[0], openflow.RoleNoChange, 0, openflow.RoleEqual, 0) // undefined: reported as 0
	mustRole(t, a, c[0], openflow.RoleMaster, 5, openflow.RoleMaster, 5)
	mustStale(t, a, c[1], openflow.RoleSlave, 4)
	mustStale(t, a, c[1], openflow.RoleMaster, 4)
	if _, _, eq := a.roles(); eq != 1 {
		t.Fatalf("a stale request changed the role: %d EQUAL, want 1", eq)
	}
	mustRole(t, a, c[1], openflow.RoleSlave, 5, openflow.RoleSlave, 5) // the same generation is not stale
	mustRole(t, a, c[1], openflow.RoleSlave, 7, openflow.RoleSlave, 7) // a SLAVE request moves the id too
	mustStale(t, a, c[0], openflow.RoleMaster, 5)                      // now the old master is stale
	if a.masterCtl() != 0 {
		t.Fatalf("master is %d, want 0 still (stale requests change nothing)", a.masterCtl())
	}
	// Wrap-around: MaxUint64 is older than 7, and 2 is newer than MaxUint64-1.
	mustStale(t, a, c[0], openflow.RoleMaster, math.MaxUint64)
	b := newArbiter(2)
	d := conns(b, 1)
	mustRole(t, b, d[0], openflow.RoleMaster, math.MaxUint64-1, openflow.RoleMaster, math.MaxUint64-1)
	mustRole(t, b, d[0], openflow.RoleMaster, 2, openflow.RoleMaster, 2)
	if st := a.stats(); st.stale != 4 || st.requests != 8 {
		t.Fatalf("stale=%d requests=%d, want 4 and 8", st.stale, st.requests)
	}
	if _, _, code, ok := a.request(c[0], 9, 9); ok || code != roleBadRole {
		t.Fatalf("role 9: ok=%v code=%d, want OFPRRFC_BAD_ROLE", ok, code)
	}
}

// A new MASTER demotes the other: never two MASTER connections, and the
// demoted one's writes are refused.
func TestArbiterNewMasterDemotesTheOther(t *testing.T) {
	a := newArbiter(1)
	c := conns(a, 3)
	mustRole(t, a, c[0], openflow.RoleMaster, 1, openflow.RoleMaster, 1)
	mustRole(t, a, c[2], openflow.RoleSlave, 1, openflow.RoleSlave, 1)
	mustRole(t, a, c[1], openflow.RoleMaster, 2, openflow.RoleMaster, 2)
	mustRole(t, a, c[0], openflow.RoleNoChange, 0, openflow.RoleSlave, 2)
	if m, s, e := a.roles(); m != 1 || s != 2 || e != 0 {
		t.Fatalf("roles master=%d slave=%d equal=%d, want 1 2 0", m, s, e)
	}
	if a.masterCtl() != 1 {
		t.Fatalf("master is controller %d, want 1", a.masterCtl())
	}
	if a.write(c[0], wFlowMod) != true || a.write(c[2], wPacketOut) != true || a.write(c[1], wFlowMod) != false {
		t.Fatal("only the SLAVE connections' writes are refused")
	}
	st := a.stats()
	if st.demoted != 1 || st.maxMasters != 1 || st.grants != 2 {
		t.Fatalf("demoted=%d max_masters=%d grants=%d, want 1 1 2", st.demoted, st.maxMasters, st.grants)
	}
	if st.isSlave() != 2 || st.writes.master[wFlowMod] != 1 || st.writes.handover[wFlowMod] != 1 {
		t.Fatalf("writes %+v", st.writes)
	}
	// A MASTER asking again is no new grant; a master leaving leaves none.
	mustRole(t, a, c[1], openflow.RoleMaster, 2, openflow.RoleMaster, 2)
	a.leave(c[1])
	if a.masterCtl() != -1 || a.stats().grants != 2 || a.stats().closed != 1 {
		t.Fatalf("after the master left: master %d, %+v", a.masterCtl(), a.stats())
	}
	// A master giving up the role (SLAVE) leaves none either.
	mustRole(t, a, c[2], openflow.RoleMaster, 3, openflow.RoleMaster, 3)
	mustRole(t, a, c[2], openflow.RoleSlave, 3, openflow.RoleSlave, 3)
	if a.masterCtl() != -1 {
		t.Fatalf("master %d after it asked for SLAVE", a.masterCtl())
	}
}

// EQUAL skips the generation check and leaves the id alone; an EQUAL
// connection may write, and doing so beside a MASTER is counted.
func TestArbiterEqualSkipsTheGenerationCheck(t *testing.T) {
	a := newArbiter(1)
	c := conns(a, 2)
	mustRole(t, a, c[1], openflow.RoleEqual, 99, openflow.RoleEqual, 0) // defines nothing
	mustRole(t, a, c[0], openflow.RoleMaster, 10, openflow.RoleMaster, 10)
	mustRole(t, a, c[1], openflow.RoleSlave, 10, openflow.RoleSlave, 10)
	mustRole(t, a, c[1], openflow.RoleEqual, 1, openflow.RoleEqual, 10) // older, yet granted
	mustRole(t, a, c[0], openflow.RoleNoChange, 0, openflow.RoleMaster, 10)
	if a.write(c[1], wMeterMod) {
		t.Fatal("an EQUAL connection's write refused")
	}
	if st := a.stats(); st.writes.equal[wMeterMod] != 1 || st.writes.besideMaster != 1 || st.stale != 0 {
		t.Fatalf("%+v", st)
	}
}

// ofMsg builds an OpenFlow message.
func ofMsg(typ uint8, xid uint32, body []byte) []byte { return reply(typ, xid, body) }

func roleReq(xid, role uint32, gen uint64) []byte {
	return openflow.Encode(openflow.RoleRequest{Role: role, GenerationID: gen}, xid)
}

// peer is the controller's end of one emulated switch connection.
type peer struct {
	t *testing.T
	c net.Conn
	f *openflow.Framer
}

func (p *peer) send(b []byte) {
	if _, err := p.c.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

// next reads up to a message of type typ (skipping HELLO).
func (p *peer) next(typ uint8) []byte {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		m, err := p.f.Next()
		if err != nil {
			p.t.Fatalf("waiting for type %d: %v", typ, err)
		}
		h := openflow.ParseHeader(m)
		if h.Type == openflow.TypeHello {
			continue
		}
		if h.Type != typ {
			p.t.Fatalf("got type %d (%x), want %d", h.Type, m, typ)
		}
		return append([]byte(nil), m...)
	}
}

// On the wire: ROLE_REPLY with the role and generation, OFPT_ERROR
// ROLE_REQUEST_FAILED/STALE echoing a stale request, and BAD_REQUEST/
// IS_SLAVE for a SLAVE connection's flow-mod, shared by the DPID's
// connections.
func TestEmulatedSwitchArbitratesRolesOnTheWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := newArbiter(0x99)
	var ps []*peer
	for i := 0; i < 2; i++ {
		e, err := dialSwitch(l.Addr().String(), a.dpid, 2, a, i)
		if err != nil {
			t.Fatal(err)
		}
		defer e.conn.Close()
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ps = append(ps, &peer{t: t, c: c, f: openflow.NewFramer(c, openflow.MaxMessageLen)})
	}
	ps[0].send(roleReq(7, openflow.RoleMaster, 40))
	r := ps[0].next(openflow.TypeRoleReply)
	if openflow.ParseHeader(r).Xid != 7 || binary.BigEndian.Uint32(r[8:]) != openflow.RoleMaster || binary.BigEndian.Uint64(r[16:]) != 40 {
		t.Fatalf("role reply %x", r)
	}
	stale := roleReq(8, openflow.RoleSlave, 39)
	ps[1].send(stale)
	em := ps[1].next(openflow.TypeError)
	if openflow.ParseHeader(em).Xid != 8 || binary.BigEndian.Uint16(em[8:]) != openflow.ErrRoleRequestFailed ||
		binary.BigEndian.Uint16(em[10:]) != openflow.RoleStale || string(em[12:]) != string(stale) {
		t.Fatalf("stale error %x", em)
	}
	ps[1].send(roleReq(9, openflow.RoleSlave, 40))
	if r := ps[1].next(openflow.TypeRoleReply); binary.BigEndian.Uint32(r[8:]) != openflow.RoleSlave {
		t.Fatalf("slave reply %x", r)
	}
	fm := flowMod(openflow.FlowAdd, 0, 10, 1, 0, 1)
	binary.BigEndian.PutUint32(fm[4:], 10)
	ps[1].send(fm)
	em = ps[1].next(openflow.TypeError)
	if openflow.ParseHeader(em).Xid != 10 || binary.BigEndian.Uint16(em[8:]) != openflow.ErrBadRequest ||
		binary.BigEndian.Uint16(em[10:]) != openflow.BadRequestIsSlave {
		t.Fatalf("is-slave error %x", em)
	}
	// The master's flow-mod lands in the switch's one table, which the
	// slave's flow dump shows too.
	ps[0].send(fm)
	ps[0].send(ofMsg(openflow.TypeBarrierRequest, 11, nil))
	ps[0].next(openflow.TypeBarrierReply)
	ps[1].send(openflow.Encode(openflow.MultipartRequest{MPType: openflow.MultipartFlow}, 12))
	dumpMsg := ps[1].next(openflow.TypeMultipartReply)
	if fs, err := openflow.ParseFlowStats(dumpMsg[16:]); err != nil || len(fs) != 1 {
		t.Fatalf("flow dump on the slave connection: %v %v", fs, err)
	}
	st := a.stats()
	if st.isSlave() != 1 || st.writes.master[wFlowMod] != 1 || st.stale != 1 {
		t.Fatalf("%+v", st)
	}
	ps[0].c.Close() // the master's controller goes away
	deadline := time.Now().Add(5 * time.Second)
	for a.masterCtl() != -1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.masterCtl() != -1 {
		t.Fatal("the master's connection closed, the switch still has it as master")
	}
}

// fakeController answers a switch's handshake and asks each switch for
// the role policy gives it; after takeOver is closed it asks MASTER with
// generation 11 on every connection it was not master of, then sends one
// flow-mod there.
type fakeController struct {
	l        net.Listener
	policy   func(dpid uint64) (role uint32, gen uint64)
	takeOver chan struct{}
}

func (f *fakeController) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		go f.conn(c)
	}
}

func (f *fakeController) conn(c net.Conn) {
	defer c.Close()
	var wmu sync.Mutex
	send := func(b []byte) {
		wmu.Lock()
		c.Write(b)
		wmu.Unlock()
	}
	send(ofMsg(openflow.TypeHello, 1, nil))
	send(ofMsg(openflow.TypeFeaturesRequest, 2, nil))
	fr := openflow.NewFramer(c, openflow.MaxMessageLen)
	for {
		m, err := fr.Next()
		if err != nil {
			return
		}
		switch h := openflow.ParseHeader(m); h.Type {
		case openflow.TypeFeaturesReply:
			dpid := binary.BigEndian.Uint64(m[8:])
			role, gen := f.policy(dpid)
			send(roleReq(3, role, gen))
			if role != openflow.RoleMaster && f.takeOver != nil {
				go func() {
					<-f.takeOver
					send(roleReq(4, openflow.RoleMaster, 11))
					send(flowMod(openflow.FlowAdd, 0, 5, 7, 0, 1))
				}()
			}
		case openflow.TypeEchoRequest:
			send(ofMsg(openflow.TypeEchoReply, h.Xid, m[8:]))
		}
	}
}

func evenMaster(dpid uint64) (uint32, uint64) {
	if dpid%2 == 0 {
		return openflow.RoleMaster, 10
	}
	return openflow.RoleSlave, 10
}

// TestFakeControllerProcess is not a test: run as a child process (the
// environment says so), it is the controller the cluster test kills.
func TestFakeControllerProcess(t *testing.T) {
	if os.Getenv("LOOMBENCH_FAKE_CONTROLLER") != "1" {
		t.Skip("a helper process for TestClusterModeMeasuresATakeover")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(l.Addr().String())
	(&fakeController{l: l, policy: evenMaster}).serve()
}

// The cluster mode end to end, with two fake controllers: one (a child
// process) master of the even switches, the other of the odd ones. The
// first is killed; the second then takes the even switches with a newer
// generation and sends each one flow-mod, which the takeover counts.
func TestClusterModeMeasuresATakeover(t *testing.T) {
	child := exec.Command(os.Args[0], "-test.run=^TestFakeControllerProcess$")
	child.Env = append(os.Environ(), "LOOMBENCH_FAKE_CONTROLLER=1")
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan struct{})
	go func() { child.Wait(); close(reaped) }()
	t.Cleanup(func() { child.Process.Kill(); <-reaped })
	addr0, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr0 = strings.TrimSpace(addr0)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	take := make(chan struct{})
	odd := func(dpid uint64) (uint32, uint64) {
		if dpid%2 == 1 {
			return openflow.RoleMaster, 10
		}
		return openflow.RoleSlave, 10
	}
	go (&fakeController{l: l, policy: odd, takeOver: take}).serve()
	go func() { // take over once the child is gone
		<-reaped
		close(take)
	}()

	pid := strconv.Itoa(child.Process.Pid)
	res := capture(t, func() error {
		return cluster([]string{"--controllers", addr0 + "," + l.Addr().String(), "--switches", "40", "--names", "a,b",
			"--timeout", "10s", "--settle", "100ms", "--steady", "200ms", "--grace", "300ms",
			"--pids", pid + "," + strconv.Itoa(os.Getpid()), "--kill-pid", pid, "--label", "test"})
	})
	if n := number(t, res, `conns=80/80 .*: (\d+) with one master \(all within`); n != 40 {
		t.Fatalf("%v of 40 switches with one master:\n%s", n, res)
	}
	checks := map[string]float64{
		`masters: a=(\d+) `: 20,
		` b=(\d+) \(50.0%\); balanced within 10% \(each`: 20,
		`stale=(\d+) is_slave=0 demoted=0 max_masters=1`: 0,
		`failover killed=a its_switches=(\d+):`:          20,
		`its_switches=20: (\d+) with a new master`:       20,
		`flow_mods to them in the window=(\d+)`:          20,
		`\(to the other switches=(\d+),`:                 0,
		`\(to b=(\d+)\)`:                                 20,
		`writes_beside_master=(\d+)`:                     0,
		`failover roles: connections master=(\d+) `:      40,
	}
	for re, want := range checks {
		if n := number(t, res, re); n != want {
			t.Errorf("%q = %v, want %v", re, n, want)
		}
	}
	if !strings.Contains(res, "two MASTER connections at once: never") || !strings.Contains(res, "rss: a ") {
		t.Errorf("output:\n%s", res)
	}
	t.Log(res) // shown with -v, or on a failure
	if err := syscall.Kill(child.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the controller process is still there: %v", err)
	}
}
