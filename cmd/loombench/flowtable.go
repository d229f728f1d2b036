package main

import (
	"encoding/binary"
	"sync"

	"github.com/loomsdn/loom/openflow"
)

// flowTable is an emulated switch's flow table: what the controller
// installed, answered back in flow-stats replies, so a controller that
// verifies its flows (Loom re-reads every table periodically) finds them
// there as on a real switch, instead of repairing every flow every pass.
// The matching is the exact-key subset a table needs: strict deletes and
// modifies by (table, priority, match), and non-strict deletes by table
// and cookie with an empty or equal match.
type flowTable struct {
	mu    sync.Mutex
	flows map[string][]byte // key -> the flow as a flow-stats entry
}

func newFlowTable() *flowTable { return &flowTable{flows: map[string][]byte{}} }

// maxTableFlows bounds one emulated table (a reactive run sends millions).
const maxTableFlows = 100000

// apply records one FLOW_MOD (the whole message, header included).
func (t *flowTable) apply(m []byte) {
	if len(m) < 56 {
		return
	}
	mlen := int(binary.BigEndian.Uint16(m[50:]))
	if mlen < 4 || 48+(mlen+7)/8*8 > len(m) {
		return
	}
	table, cmd := m[24], m[25]
	match := m[48 : 48+mlen]
	key := string(append([]byte{table, m[30], m[31]}, match...))
	cookie, mask := binary.BigEndian.Uint64(m[8:]), binary.BigEndian.Uint64(m[16:])
	t.mu.Lock()
	defer t.mu.Unlock()
	switch cmd {
	case openflow.FlowAdd, openflow.FlowModify, openflow.FlowModifyStrict:
		if _, ok := t.flows[key]; !ok && len(t.flows) >= maxTableFlows {
			return
		}
		t.flows[key] = statsEntry(m)
	case openflow.FlowDeleteStrict:
		if e, ok := t.flows[key]; ok && cookieMatches(e, cookie, mask) {
			delete(t.flows, key)
		}
	case openflow.FlowDelete:
		for k, e := range t.flows {
			sameTable := table == 0xff || e[2] == table
			sameMatch := mlen == 4 || k[3:] == string(match)
			if sameTable && sameMatch && cookieMatches(e, cookie, mask) {
				delete(t.flows, k)
			}
		}
	}
}

func cookieMatches(entry []byte, cookie, mask uint64) bool {
	return binary.BigEndian.Uint64(entry[24:])&mask == cookie&mask
}

// statsEntry turns a FLOW_MOD into the ofp_flow_stats entry a switch
// would report for it: the match (padded, as sent) and instructions are
// the same bytes.
func statsEntry(m []byte) []byte {
	rest := m[48:]
	e := make([]byte, 48, 48+len(rest))
	binary.BigEndian.PutUint16(e[0:], uint16(48+len(rest)))
	e[2] = m[24]             // table
	copy(e[12:14], m[30:32]) // priority
	copy(e[14:18], m[26:30]) // idle and hard timeouts
	copy(e[18:20], m[44:46]) // flags
	copy(e[24:32], m[8:16])  // cookie
	return append(e, rest...)
}

// replies answers a flow-stats request with every flow, in parts that
// fit an OpenFlow message (the REPLY_MORE flag on all but the last).
func (t *flowTable) replies(xid uint32) [][]byte {
	const maxBody = 0xffff - 8 - 8
	t.mu.Lock()
	defer t.mu.Unlock()
	var out [][]byte
	body := mpHeader()
	for _, e := range t.flows {
		if len(body)+len(e) > maxBody {
			binary.BigEndian.PutUint16(body[2:], 1) // OFPMPF_REPLY_MORE
			out = append(out, reply(openflow.TypeMultipartReply, xid, body))
			body = mpHeader()
		}
		body = append(body, e...)
	}
	return append(out, reply(openflow.TypeMultipartReply, xid, body))
}

// mpHeader starts a flow-stats reply body: type, flags, padding.
func mpHeader() []byte {
	return []byte{byte(openflow.MultipartFlow >> 8), byte(openflow.MultipartFlow), 0, 0, 0, 0, 0, 0}
}
