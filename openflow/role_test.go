package openflow

import (
	"context"
	"encoding/binary"
	"testing"
)

// Role and async messages are Loom's own (libOpenflow lacks them).
func TestRoleRequestRoundTrip(t *testing.T) {
	c, p := newPair(t, Config{})
	handshake(t, c, p)
	serve(c)
	type result struct {
		m   Message
		err error
	}
	res := make(chan result, 1)
	go func() {
		m, err := c.Request(context.Background(), RoleRequest{Role: RoleMaster, GenerationID: 42})
		res <- result{m, err}
	}()
	req := p.next(TypeRoleRequest)
	if len(req) != 24 || binary.BigEndian.Uint32(req[8:]) != RoleMaster || binary.BigEndian.Uint64(req[16:]) != 42 {
		t.Fatalf("role request %x", req)
	}
	body := binary.BigEndian.AppendUint32(nil, RoleMaster)
	body = append(body, 0, 0, 0, 0)
	body = binary.BigEndian.AppendUint64(body, 42)
	p.send(raw(TypeRoleReply, ParseHeader(req).Xid, body...))
	r := <-res
	rr, ok := r.m.(*RoleReply)
	if r.err != nil || !ok || rr.Role != RoleMaster || rr.GenerationID != 42 {
		t.Fatalf("role reply %#v, %v", r.m, r.err)
	}
}

func TestAsyncConfigRoundTrip(t *testing.T) {
	set := SetAsync{PacketInMask: [2]uint32{0x7, 0}, PortStatusMask: [2]uint32{0x7, 0x7}, FlowRemovedMask: [2]uint32{0xf, 0}}
	b := Encode(set, 9)
	if len(b) != 32 || b[1] != TypeSetAsync {
		t.Fatalf("set-async %x", b)
	}
	b[1] = TypeGetAsyncReply // the reply has the same body
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.(*AsyncConfig)
	if got.PacketInMask != set.PacketInMask || got.PortStatusMask != set.PortStatusMask || got.FlowRemovedMask != set.FlowRemovedMask {
		t.Fatalf("decoded %+v, sent %+v", got, set)
	}
}
