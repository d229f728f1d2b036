package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loomsdn/loom/openflow"
)

// Controller roles as Open vSwitch implements them (ofproto/connmgr.c,
// handle_role_request): one switch, however many controller connections,
// has one master_election_id, defined once any MASTER or SLAVE request
// carried one.
//
//   - MASTER or SLAVE with generation g: when the id is defined and
//     int64(g-id) < 0 (a wrap-around comparison), the request is refused
//     with OFPET_ROLE_REQUEST_FAILED/OFPRRFC_STALE; otherwise id = g and
//     the connection takes the role.
//   - EQUAL: no generation check, the id is left as it is.
//   - NOCHANGE: only reports.
//   - A new MASTER demotes every other MASTER connection to SLAVE.
//   - A connection starts EQUAL; a SLAVE one is refused every write
//     (flow-mod, group-mod, meter-mod, port-mod, table-mod, packet-out,
//     bundled flow-mod) with OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE.
//
// The reply carries the connection's role and the current id (0 while
// undefined).
//
// OFPRRFC_STALE is 0 in OpenFlow 1.3 (ofp_role_request_failed_code: STALE
// 0, UNSUP 1, BAD_ROLE 2), as in openflow.RoleStale and in OVS's
// OFPERR_OFPRRFC_STALE (OF1.2+(11,0)).

// Message types Loom's openflow package has no name for (OpenFlow 1.3
// ofp_type): writes a SLAVE connection is refused.
const (
	typeGroupMod uint8 = 15
	typePortMod  uint8 = 16
	typeTableMod uint8 = 17
)

// roleBadRole is OFPRRFC_BAD_ROLE: a role value outside 0..3.
const roleBadRole uint16 = 2

// Kinds of writes, counted per role.
const (
	wFlowMod = iota
	wPacketOut
	wGroupMod
	wMeterMod
	wPortMod
	wTableMod
	nWrites
)

var writeNames = [nWrites]string{"flow_mods", "packet_outs", "group_mods", "meter_mods", "port_mods", "table_mods"}

// writeKind maps a message type to the write it is, or -1.
func writeKind(typ uint8) int {
	switch typ {
	case openflow.TypeFlowMod:
		return wFlowMod
	case openflow.TypePacketOut:
		return wPacketOut
	case typeGroupMod:
		return wGroupMod
	case openflow.TypeMeterMod:
		return wMeterMod
	case typePortMod:
		return wPortMod
	case typeTableMod:
		return wTableMod
	}
	return -1
}

// grant is one MASTER role given to a connection that was not master.
type grant struct {
	at  time.Time
	ctl int // the controller's index
	gen uint64
}

// writeCounts are writes by the role of the connection they came on.
type writeCounts struct {
	master, equal, slave [nWrites]uint64
	// besideMaster counts writes accepted from a connection that was not
	// the switch's MASTER while another connection was: an EQUAL
	// controller writing beside the master (OVS accepts those).
	besideMaster uint64
	// handover counts writes from a MASTER that took the switch over
	// from an earlier one (not its first master).
	handover [nWrites]uint64
}

func (w *writeCounts) add(o writeCounts) {
	for k := 0; k < nWrites; k++ {
		w.master[k] += o.master[k]
		w.equal[k] += o.equal[k]
		w.slave[k] += o.slave[k]
		w.handover[k] += o.handover[k]
	}
	w.besideMaster += o.besideMaster
}

func (w *writeCounts) total(k int) uint64 { return w.master[k] + w.equal[k] + w.slave[k] }

// arbiter is one emulated switch's role state, shared by every connection
// of its DPID, with what the benchmark reads of it.
type arbiter struct {
	dpid  uint64
	table *flowTable // the switch's one flow table, for all its connections

	mu      sync.Mutex
	defined bool   // master_election_id is defined
	gen     uint64 // master_election_id
	conns   map[*emu]bool
	master  *emu // the MASTER connection, nil when none
	first   *emu // the first connection made MASTER
	grants  []grant
	// maxMasters is the most MASTER connections the switch ever had at
	// once (1 by construction, as on OVS: the check of the emulator).
	maxMasters int
	// demoted counts MASTER connections demoted to SLAVE by another
	// connection's MASTER request: the switch, not the controller, ended
	// that controller's mastership.
	demoted  int
	stale    int // role requests refused as stale
	badRole  int
	requests int // role requests answered (stale included)
	closed   int // connections that ended (the controller closed them, or died)
	writes   writeCounts
	// events is the switch's role history (the last maxEvents), for a
	// switch left without a master or refusing writes.
	events []roleEvent
	t0     time.Time
}

// roleEvent is one step of a switch's role history.
type roleEvent struct {
	at        time.Duration // since the arbiter was made
	ctl       int
	what      string // join, leave, demoted, or the request
	role, gen uint64
	result    string
}

const maxEvents = 64

// note records an event; a.mu is held.
func (a *arbiter) note(ev roleEvent) {
	ev.at = time.Since(a.t0)
	if len(a.events) == maxEvents {
		a.events = append(a.events[:0], a.events[1:]...)
	}
	a.events = append(a.events, ev)
}

// history describes the switch's role history for a report.
func (a *arbiter) history(names []string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var b strings.Builder
	for _, ev := range a.events {
		name := strconv.Itoa(ev.ctl)
		if ev.ctl >= 0 && ev.ctl < len(names) {
			name = names[ev.ctl]
		}
		fmt.Fprintf(&b, " %v %s %s", ev.at.Round(time.Millisecond), name, ev.what)
		if ev.what == "request" {
			fmt.Fprintf(&b, " %s gen=%d: %s", roleName(uint32(ev.role)), ev.gen, ev.result)
		}
		b.WriteString(";")
	}
	for e := range a.conns {
		name := strconv.Itoa(e.ctl)
		if e.ctl < len(names) {
			name = names[e.ctl]
		}
		fmt.Fprintf(&b, " now %s %s;", name, roleName(e.role))
	}
	fmt.Fprintf(&b, " generation %d (defined %v)", a.gen, a.defined)
	return b.String()
}

func roleName(r uint32) string {
	switch r {
	case openflow.RoleNoChange:
		return "NOCHANGE"
	case openflow.RoleEqual:
		return "EQUAL"
	case openflow.RoleMaster:
		return "MASTER"
	case openflow.RoleSlave:
		return "SLAVE"
	}
	return "role" + strconv.Itoa(int(r))
}

func newArbiter(dpid uint64) *arbiter {
	return &arbiter{dpid: dpid, table: newFlowTable(), conns: map[*emu]bool{}, t0: time.Now()}
}

// join registers a new connection: EQUAL, as OVS starts one.
func (a *arbiter) join(e *emu) {
	a.mu.Lock()
	e.role = openflow.RoleEqual
	a.conns[e] = true
	a.note(roleEvent{ctl: e.ctl, what: "join"})
	a.mu.Unlock()
}

// leave drops a connection that ended; a master leaving leaves the switch
// without one.
func (a *arbiter) leave(e *emu) {
	a.mu.Lock()
	if a.conns[e] {
		delete(a.conns, e)
		a.closed++
		a.note(roleEvent{ctl: e.ctl, what: "leave", role: uint64(e.role)})
	}
	if a.master == e {
		a.master = nil
	}
	a.mu.Unlock()
}

// request handles a ROLE_REQUEST on connection e. ok false means the
// request is refused with OFPET_ROLE_REQUEST_FAILED and code; otherwise
// role and gen are the reply's.
func (a *arbiter) request(e *emu, role uint32, gen uint64) (replyRole uint32, replyGen uint64, code uint16, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	ev := roleEvent{ctl: e.ctl, what: "request", role: uint64(role), gen: gen, result: "ok"}
	defer func() {
		if code != 0 || !ok {
			ev.result = "refused"
			if code == openflow.RoleStale {
				ev.result = fmt.Sprintf("STALE (id %d)", a.gen)
			}
		}
		a.note(ev)
	}()
	switch role {
	case openflow.RoleNoChange:
	case openflow.RoleMaster, openflow.RoleSlave, openflow.RoleEqual:
		if role != openflow.RoleEqual {
			if a.defined && int64(gen-a.gen) < 0 {
				a.stale++
				return 0, 0, openflow.RoleStale, false
			}
			a.gen, a.defined = gen, true
		}
		a.setRole(e, role)
	default:
		a.badRole++
		return 0, 0, roleBadRole, false
	}
	if a.defined {
		replyGen = a.gen
	}
	return e.role, replyGen, 0, true
}

// setRole gives e its role; a.mu is held.
func (a *arbiter) setRole(e *emu, role uint32) {
	if role == openflow.RoleMaster {
		for o := range a.conns {
			if o != e && o.role == openflow.RoleMaster {
				o.role = openflow.RoleSlave
				a.demoted++
				a.note(roleEvent{ctl: o.ctl, what: "demoted"})
			}
		}
		if a.master != e {
			a.grants = append(a.grants, grant{at: time.Now(), ctl: e.ctl, gen: a.gen})
		}
		if a.first == nil {
			a.first = e
		}
		a.master = e
	} else if a.master == e {
		a.master = nil
	}
	e.role = role
	masters := 0
	for o := range a.conns {
		if o.role == openflow.RoleMaster {
			masters++
		}
	}
	a.maxMasters = max(a.maxMasters, masters)
}

// write counts a write of kind k on e, and says whether the switch
// refuses it (e is SLAVE).
func (a *arbiter) write(e *emu, k int) (refused bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch e.role {
	case openflow.RoleSlave:
		a.writes.slave[k]++
		a.note(roleEvent{ctl: e.ctl, what: "refused " + writeNames[k][:len(writeNames[k])-1] + " (IS_SLAVE)"})
		return true
	case openflow.RoleMaster:
		a.writes.master[k]++
		if e != a.first {
			a.writes.handover[k]++
		}
	default:
		a.writes.equal[k]++
	}
	if a.master != nil && a.master != e {
		a.writes.besideMaster++
	}
	return false
}

// masterCtl is the index of the controller whose connection is MASTER,
// -1 when none.
func (a *arbiter) masterCtl() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.master == nil {
		return -1
	}
	return a.master.ctl
}

// roles counts the switch's live connections by role.
func (a *arbiter) roles() (master, slave, equal int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for e := range a.conns {
		switch e.role {
		case openflow.RoleMaster:
			master++
		case openflow.RoleSlave:
			slave++
		default:
			equal++
		}
	}
	return master, slave, equal
}

// arbiterStats is what the benchmark reads of one or many switches.
type arbiterStats struct {
	maxMasters, demoted, stale, badRole, requests, closed int
	grants                                                int
	writes                                                writeCounts
}

func (s *arbiterStats) add(o arbiterStats) {
	s.maxMasters = max(s.maxMasters, o.maxMasters)
	s.demoted += o.demoted
	s.stale += o.stale
	s.badRole += o.badRole
	s.requests += o.requests
	s.closed += o.closed
	s.grants += o.grants
	s.writes.add(o.writes)
}

func (s arbiterStats) isSlave() uint64 {
	var n uint64
	for k := 0; k < nWrites; k++ {
		n += s.writes.slave[k]
	}
	return n
}

func (a *arbiter) stats() arbiterStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return arbiterStats{maxMasters: a.maxMasters, demoted: a.demoted, stale: a.stale, badRole: a.badRole,
		requests: a.requests, closed: a.closed, grants: len(a.grants), writes: a.writes}
}

// grantsSince lists the MASTER grants after t.
func (a *arbiter) grantsSince(t time.Time) []grant {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []grant
	for _, g := range a.grants {
		if g.at.After(t) {
			out = append(out, g)
		}
	}
	return out
}

// firstGrant is when the switch first had a master (zero if never).
func (a *arbiter) firstGrant() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.grants) == 0 {
		return time.Time{}
	}
	return a.grants[0].at
}

// lastGrant is when the switch's mastership last moved (zero if never).
func (a *arbiter) lastGrant() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.grants) == 0 {
		return time.Time{}
	}
	return a.grants[len(a.grants)-1].at
}

// roleRequest answers a ROLE_REQUEST m on e.
func (e *emu) roleRequest(m []byte) {
	h := openflow.ParseHeader(m)
	if len(m) < 24 {
		e.send(errorMsg(h.Xid, openflow.ErrBadRequest, openflow.BadRequestBadLen, m))
		return
	}
	role, gen, code, ok := e.arb.request(e, binary.BigEndian.Uint32(m[8:]), binary.BigEndian.Uint64(m[16:]))
	if !ok {
		e.send(errorMsg(h.Xid, openflow.ErrRoleRequestFailed, code, m))
		return
	}
	b := binary.BigEndian.AppendUint32(nil, role)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, gen)
	e.send(reply(openflow.TypeRoleReply, h.Xid, b))
}

// refuse counts the write m (of kind k) and, when e is SLAVE, answers it
// with OFPBRC_IS_SLAVE and says so: the caller then drops it.
func (e *emu) refuse(m []byte, k int) bool {
	if e.arb == nil || !e.arb.write(e, k) {
		return false
	}
	e.send(errorMsg(openflow.ParseHeader(m).Xid, openflow.ErrBadRequest, openflow.BadRequestIsSlave, m))
	return true
}

// errorMsg is an OFPT_ERROR echoing (the first 64 bytes of) the request,
// as OpenFlow asks.
func errorMsg(xid uint32, typ, code uint16, req []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, code)
	return reply(openflow.TypeError, xid, append(b, req[:min(len(req), 64)]...))
}
