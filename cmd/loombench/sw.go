package main

import (
	"bufio"
	"encoding/binary"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loomsdn/loom/openflow"
)

// emu is one emulated switch. Its reader answers the controller's
// requests; counters are read by the benchmark loop.
type emu struct {
	dpid  uint64
	ports int
	conn  net.Conn

	wmu sync.Mutex
	w   *bufio.Writer

	flowMods   atomic.Uint64
	packetOuts atomic.Uint64
	answered   atomic.Uint64
	// answers carries one token per answered packet-in to the sender.
	answers chan time.Time

	connected    time.Time
	firstFlowMod atomic.Int64 // unix nanos
	confirmed    atomic.Int64 // unix nanos: initial flows confirmed
	sawFlowMod   atomic.Bool
	portDescAt   atomic.Int64 // unix nanos: the controller first asked for the ports (its setup)
	bundleOpen   atomic.Bool
	// missCookie and missTable are those of the table-miss flow that
	// sends to the controller (priority 0, output:CONTROLLER; in Loom's
	// pipeline the learning table's, in a lone learning switch table
	// 0's): OVS puts them on the packet-ins that flow sends.
	missCookie atomic.Uint64
	missTable  atomic.Uint32

	// outstanding maps a packet-in's source MAC to how many await an
	// answer (sources are unique within a window).
	omu         sync.Mutex
	outstanding map[[6]byte]int
	done        chan struct{}
	// table keeps the flows installed, when emulateTables is set (in a
	// cluster run, the switch's table shared by its connections).
	table *flowTable

	// arb is the switch's role arbiter in a cluster run (nil otherwise:
	// every role request is granted as asked); ctl is the index of the
	// controller this connection goes to, role its role (arb.mu).
	arb  *arbiter
	ctl  int
	role uint32
}

// emulateTables makes every emulated switch keep a flow table and report
// it in flow-stats replies (set before dialing): connect and churn runs,
// where a controller verifying its flows must find them, as on OVS.
var emulateTables bool

// dialController connects to a controller address: "unix:PATH",
// "tcp:HOST:PORT" or a bare "HOST:PORT" (TCP).
func dialController(addr string, timeout time.Duration) (net.Conn, error) {
	network, address := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", rest
	} else if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		address = rest
	}
	return net.DialTimeout(network, address, timeout)
}

func dial(addr string, dpid uint64, ports int) (*emu, error) {
	return dialSwitch(addr, dpid, ports, nil, 0)
}

// dialSwitch dials one connection of a switch; with an arbiter, it is
// connection ctl of the switch arb stands for, sharing its roles and table.
func dialSwitch(addr string, dpid uint64, ports int, arb *arbiter, ctl int) (*emu, error) {
	c, err := dialController(addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	e := &emu{dpid: dpid, ports: ports, conn: c, w: bufio.NewWriterSize(c, 64<<10), answers: make(chan time.Time, 1<<16),
		outstanding: map[[6]byte]int{}, done: make(chan struct{}), connected: time.Now()}
	if arb != nil {
		e.arb, e.ctl, e.table = arb, ctl, arb.table
		arb.join(e)
	} else if emulateTables {
		e.table = newFlowTable()
	}
	e.send(openflow.Encode(openflow.HelloMsg{}, 1))
	go e.read()
	return e, nil
}

func (e *emu) send(b []byte) {
	e.wmu.Lock()
	e.w.Write(b)
	e.w.Flush()
	e.wmu.Unlock()
}

// sendBatch writes several messages with one flush.
func (e *emu) sendBatch(msgs [][]byte) {
	e.wmu.Lock()
	for _, m := range msgs {
		e.w.Write(m)
	}
	e.w.Flush()
	e.wmu.Unlock()
}

func reply(typ uint8, xid uint32, body []byte) []byte {
	b := make([]byte, 8, 8+len(body))
	b[0], b[1] = openflow.Version, typ
	binary.BigEndian.PutUint16(b[2:], uint16(8+len(body)))
	binary.BigEndian.PutUint32(b[4:], xid)
	return append(b, body...)
}

func (e *emu) read() {
	defer close(e.done)
	if e.arb != nil {
		defer e.arb.leave(e)
	}
	f := openflow.NewFramer(e.conn, openflow.MaxMessageLen)
	for {
		m, err := f.Next()
		if err != nil {
			return
		}
		h := openflow.ParseHeader(m)
		switch h.Type {
		case openflow.TypeFeaturesRequest:
			b := binary.BigEndian.AppendUint64(nil, e.dpid)
			b = append(b, 0, 0, 0, 0, 254, 0, 0, 0, 0, 0, 0, 0x4f, 0, 0, 0, 0)
			e.send(reply(openflow.TypeFeaturesReply, h.Xid, b))
		case openflow.TypeMultipartReq:
			mp := binary.BigEndian.Uint16(m[8:])
			if mp == openflow.MultipartFlow && e.table != nil {
				e.sendBatch(e.table.replies(h.Xid))
				continue
			}
			body := []byte{byte(mp >> 8), byte(mp), 0, 0, 0, 0, 0, 0}
			if mp == openflow.MultipartPortDesc {
				e.portDescAt.CompareAndSwap(0, time.Now().UnixNano())
				for p := 1; p <= e.ports; p++ {
					body = append(body, port(uint32(p))...)
				}
			}
			e.send(reply(openflow.TypeMultipartReply, h.Xid, body))
		case openflow.TypeBarrierRequest:
			e.send(reply(openflow.TypeBarrierReply, h.Xid, nil))
			if e.sawFlowMod.Load() && !e.bundleOpen.Load() {
				e.confirmed.CompareAndSwap(0, time.Now().UnixNano())
			}
		case openflow.TypeEchoRequest:
			e.send(reply(openflow.TypeEchoReply, h.Xid, m[8:]))
		case openflow.TypeRoleRequest:
			if e.arb != nil {
				e.roleRequest(m) // role.go: OVS's arbitration
				continue
			}
			// Granted as asked, as OVS does for a controller with the
			// newest generation: role, padding and generation id back.
			e.send(reply(openflow.TypeRoleReply, h.Xid, m[8:]))
		case openflow.TypeGetAsyncRequest:
			e.send(reply(openflow.TypeGetAsyncReply, h.Xid, make([]byte, 24)))
		case openflow.TypeExperimenter:
			e.bundle(h, m)
		case openflow.TypeFlowMod:
			if !e.refuse(m, wFlowMod) {
				e.flowMod(m)
			}
		case openflow.TypePacketOut:
			if !e.refuse(m, wPacketOut) {
				e.packetOut(m)
			}
		case typeGroupMod, typePortMod, typeTableMod, openflow.TypeMeterMod:
			e.refuse(m, writeKind(h.Type)) // counted (and refused to a SLAVE); nothing emulated
		}
	}
}

// bundle answers ONF bundle control messages and counts bundled flow-mods.
func (e *emu) bundle(h openflow.Header, m []byte) {
	if len(m) < 24 || binary.BigEndian.Uint32(m[8:]) != openflow.ONFExperimenterID {
		return
	}
	switch binary.BigEndian.Uint32(m[12:]) {
	case 2301: // add
		if len(m) > 32 && m[25] == openflow.TypeFlowMod && !e.refuse(m, wFlowMod) {
			e.flowMod(m[24:])
		}
	case 2300:
		typ := binary.BigEndian.Uint16(m[20:])
		switch typ {
		case openflow.BundleOpenRequest:
			e.bundleOpen.Store(true)
		case openflow.BundleCommitRequest:
			e.bundleOpen.Store(false)
			if e.sawFlowMod.Load() {
				e.confirmed.CompareAndSwap(0, time.Now().UnixNano())
			}
		case openflow.BundleDiscardRequest:
			e.bundleOpen.Store(false)
		}
		r := append([]byte(nil), m[8:24]...)
		binary.BigEndian.PutUint16(r[12:], typ+1)
		e.send(reply(openflow.TypeExperimenter, h.Xid, r))
	}
}

func (e *emu) flowMod(m []byte) {
	e.flowMods.Add(1)
	if e.table != nil {
		e.table.apply(m)
	}
	if e.sawFlowMod.CompareAndSwap(false, true) {
		e.firstFlowMod.Store(time.Now().UnixNano())
	}
	if len(m) < 56 {
		return
	}
	if binary.BigEndian.Uint16(m[30:]) == 0 && m[25] == openflow.FlowAdd && toController(m) {
		e.missCookie.Store(binary.BigEndian.Uint64(m[8:]))
		e.missTable.Store(uint32(m[24]))
	}
	// A flow for a packet-in's traffic answers it: it matches the packet's
	// source MAC, or its destination (then the source of some other
	// outstanding packet). Walk the OXMs in place: no allocation.
	n := int(binary.BigEndian.Uint16(m[50:]))
	if 48+n > len(m) {
		return
	}
	oxms := m[52 : 48+n]
	for len(oxms) >= 4 {
		l := int(oxms[3])
		if 4+l > len(oxms) {
			return
		}
		field := oxms[2] >> 1
		if binary.BigEndian.Uint16(oxms) == openflow.OXMClassBasic && l == 6 && (field == openflow.OXMEthSrc || field == openflow.OXMEthDst) {
			var k [6]byte
			copy(k[:], oxms[4:10])
			e.omu.Lock()
			if e.outstanding[k] > 0 {
				e.resolve(k)
				e.omu.Unlock()
				return
			}
			e.omu.Unlock()
		}
		oxms = oxms[4+l:]
	}
}

func (e *emu) packetOut(m []byte) {
	e.packetOuts.Add(1)
	if len(m) < 24 {
		return
	}
	alen := int(binary.BigEndian.Uint16(m[16:]))
	data := m[24+alen:]
	if len(data) < 12 {
		return
	}
	var k [6]byte
	copy(k[:], data[6:12])
	e.omu.Lock()
	if e.outstanding[k] > 0 {
		e.resolve(k)
	}
	e.omu.Unlock()
}

// resolve marks one packet-in from source k answered (omu held).
func (e *emu) resolve(k [6]byte) {
	e.outstanding[k]--
	if e.outstanding[k] == 0 {
		delete(e.outstanding, k)
	}
	e.answered.Add(1)
	select {
	case e.answers <- time.Now():
	default:
	}
}

// packetIn builds a table-miss packet-in carrying a 64-byte frame, with
// the cookie of the table-miss flow as OVS would.
func (e *emu) packetIn(xid uint32, inPort uint32, dst, src [6]byte) []byte {
	frame := make([]byte, 64)
	copy(frame, dst[:])
	copy(frame[6:], src[:])
	frame[12], frame[13] = 0x08, 0x00
	b := binary.BigEndian.AppendUint32(nil, openflow.NoBuffer)
	b = binary.BigEndian.AppendUint16(b, uint16(len(frame)))
	b = append(b, openflow.PacketInNoMatch, byte(e.missTable.Load()))
	b = binary.BigEndian.AppendUint64(b, e.missCookie.Load())
	b = append(b, 0, 1, 0, 12, 0x80, 0, 0, 4)
	b = binary.BigEndian.AppendUint32(b, inPort)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, frame...)
	return reply(openflow.TypePacketIn, xid, b)
}

// expect records that a packet-in from src awaits an answer.
func (e *emu) expect(_, src [6]byte) {
	e.omu.Lock()
	e.outstanding[src]++
	e.omu.Unlock()
}

func port(no uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, no)
	b = append(b, 0, 0, 0, 0, 2, 0, 0, 0, byte(no>>8), byte(no), 0, 0)
	name := make([]byte, 16)
	copy(name, []byte("p"+itoa(no)))
	b = append(b, name...)
	return append(b, make([]byte, 32)...)
}

func itoa(n uint32) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// toController reports whether a FLOW_MOD's apply-actions output to the
// controller.
func toController(m []byte) bool {
	if len(m) < 52 {
		return false
	}
	matchLen := int(binary.BigEndian.Uint16(m[50:]))
	off := 48 + (matchLen+7)/8*8
	for off+4 <= len(m) {
		typ, l := binary.BigEndian.Uint16(m[off:]), int(binary.BigEndian.Uint16(m[off+2:]))
		if l < 4 || off+l > len(m) {
			return false
		}
		if typ == 4 { // OFPIT_APPLY_ACTIONS: 8-byte header, then actions
			for a := off + 8; a+8 <= off+l; {
				at, al := binary.BigEndian.Uint16(m[a:]), int(binary.BigEndian.Uint16(m[a+2:]))
				if al < 8 || a+al > off+l {
					break
				}
				if at == 0 && binary.BigEndian.Uint32(m[a+4:]) == openflow.PortController {
					return true
				}
				a += al
			}
		}
		off += l
	}
	return false
}
