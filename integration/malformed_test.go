package integration

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/openflow"
)

// badPeer is a connection that sends bytes no switch should.
type badPeer struct {
	name string
	// send is what the peer writes after connecting; afterHello prefixes
	// a valid OpenFlow 1.3 HELLO so the bad part lands after negotiation.
	send       []byte
	afterHello bool
	// closeWrite ends the peer's side after sending (a truncated stream).
	closeWrite bool
	// wantError is the OFPT_ERROR type Loom should answer with, if any.
	wantError int
}

func packetInWithMatch(match []byte) []byte {
	b := []byte{openflow.Version, openflow.TypePacketIn, 0, 0, 0, 0, 0, 9}
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0, 64, 0, 0) // no buffer, total_len, reason, table
	b = append(b, make([]byte, 8)...)                  // cookie
	b = append(b, match...)
	b = append(b, 0, 0)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func flowStatsReply(instructions []byte) []byte {
	entry := make([]byte, 48)
	entry = append(entry, 0, 1, 0, 4, 0, 0, 0, 0) // empty OXM match, padded
	entry = append(entry, instructions...)
	binary.BigEndian.PutUint16(entry, uint16(len(entry)))
	b := []byte{openflow.Version, openflow.TypeMultipartReply, 0, 0, 0, 0, 0, 9, 0, openflow.MultipartFlow, 0, 0, 0, 0, 0, 0}
	b = append(b, entry...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

var badPeers = []badPeer{
	{name: "header length 0", send: []byte{4, 0, 0, 0, 0, 0, 0, 1}},
	{name: "header length 7", send: []byte{4, 0, 0, 7, 0, 0, 0, 1}},
	{name: "header length 65535", send: []byte{4, 10, 0xff, 0xff, 0, 0, 0, 2, 1, 2, 3}, afterHello: true, closeWrite: true},
	{name: "truncated body", send: []byte{4, 10, 0, 100, 0, 0, 0, 2, 1, 2, 3}, afterHello: true, closeWrite: true},
	{name: "zero-length OXM field", send: packetInWithMatch([]byte{0, 1, 0, 8, 0x80, 0, 0, 0}), afterHello: true, wantError: openflow.ErrBadRequest},
	{name: "zero-length instruction", send: flowStatsReply([]byte{0, 4, 0, 0, 0, 0, 0, 0}), afterHello: true, wantError: openflow.ErrBadRequest},
	{name: "zero-length action", send: flowStatsReply([]byte{0, 4, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), afterHello: true, wantError: openflow.ErrBadRequest},
	{name: "unknown message type", send: []byte{4, 99, 0, 8, 0, 0, 0, 2}, afterHello: true, wantError: openflow.ErrBadRequest},
	{name: "OpenFlow 1.0 HELLO", send: []byte{1, 0, 0, 8, 0, 0, 0, 1}, wantError: openflow.ErrHelloFailed},
	{name: "1.0 message after HELLO", send: []byte{1, 2, 0, 8, 0, 0, 0, 2}, afterHello: true, wantError: openflow.ErrBadRequest},
	{name: "no HELLO within 5s", send: nil},
}

// TestMalformedPeersAreDroppedWhileARealSwitchForwards throws every kind of
// bad peer at loomd at once while a real OVS bridge is connected and its
// VMs ping: each bad peer is disconnected with exactly one log line, loomd
// neither panics nor leaks goroutines, and the real switch keeps working.
func TestMalformedPeersAreDroppedWhileARealSwitchForwards(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)
	baseline := l.goroutines(t)
	linesBefore := len(l.problems())

	var wg sync.WaitGroup
	for _, p := range badPeers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(l.sock); err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		}()
	}
	// The real switch forwards while the bad peers are at it.
	if err := vm1.Ping(vm2.IP, 20, 15*time.Second); err != nil {
		t.Errorf("real switch stopped forwarding during the bad peers: %v", err)
	}
	wg.Wait()

	waitFor(t, "one log line per bad peer", 10*time.Second, func() bool {
		return len(l.problems())-linesBefore >= len(badPeers)
	})
	time.Sleep(200 * time.Millisecond) // let any extra line show itself
	got := l.problems()[linesBefore:]
	if len(got) != len(badPeers) {
		t.Fatalf("%d warning lines for %d bad peers, want one each:\n%s", len(got), len(badPeers), strings.Join(got, "\n"))
	}
	t.Logf("loomd on the bad peers:\n%s", strings.Join(got, "\n"))
	for _, line := range got {
		if strings.Contains(line, "panic") {
			t.Fatalf("loomd panicked: %s", line)
		}
	}
	if l.proc.Exited() {
		t.Fatal("loomd exited")
	}
	waitFor(t, "goroutines back to baseline", 10*time.Second, func() bool { return l.goroutines(t) <= baseline })

	// Still serving the real switch: a new VM is learned and reachable.
	if !br.IsConnected() {
		t.Fatal("the real switch lost its controller connection")
	}
	vm3 := hv.AddVM("centos03", br, "172.16.123.103/24")
	if err := vm3.Ping(vm1.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("new VM after the bad peers: %v", err)
	}
}

// run connects, misbehaves, and waits for loomd to hang up; it checks the
// OFPT_ERROR loomd sends back when one is due.
func (p badPeer) run(sock string) error {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return err
	}
	defer c.Close()
	if p.afterHello {
		c.Write(openflow.Encode(openflow.HelloMsg{}, 1))
	}
	c.Write(p.send)
	if p.closeWrite {
		c.(*net.UnixConn).CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	f := openflow.NewFramer(c, openflow.MaxMessageLen)
	gotError := -1
	for {
		m, err := f.Next()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return err // loomd never hung up
			}
			break
		}
		if m[1] == openflow.TypeError {
			gotError = int(binary.BigEndian.Uint16(m[8:]))
		}
	}
	if p.wantError != 0 || p.name == "OpenFlow 1.0 HELLO" {
		if gotError != p.wantError {
			return fmt.Errorf("loomd answered error type %d, want %d", gotError, p.wantError)
		}
	}
	return nil
}
