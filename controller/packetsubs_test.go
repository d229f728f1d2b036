package controller

import (
	"testing"
	"time"

	"github.com/loomsdn/loom/apps"
)

// A packet-in subscriber that never reads holds at most packetSubBytes of
// frames and is then dropped; one that reads keeps getting everything.
func TestStalledPacketSubscriberIsBoundedAndDropped(t *testing.T) {
	var p packetSubs
	stalled, cancelStalled := p.add(PacketFilter{}, 256)
	defer cancelStalled()
	reader, cancelReader := p.add(PacketFilter{}, 256)
	defer cancelReader()
	frame := make([]byte, 60000)
	got := 0
	for i := 0; i < 200; i++ { // 12 MB in all
		p.publish(apps.PacketIn{DPID: 1, Data: frame}, time.Now)
		for len(reader.ch) > 0 {
			reader.Received(<-reader.ch)
			got++
		}
	}
	select {
	case <-stalled.gone:
	default:
		t.Fatal("a subscriber holding more than its byte budget was not dropped")
	}
	if held := int64(len(stalled.ch)) * 60000; held > packetSubBytes || stalled.queued.Load() > packetSubBytes {
		t.Fatalf("the stalled subscriber holds %d bytes, over the %d budget", held, packetSubBytes)
	}
	if got != 200 {
		t.Fatalf("the reading subscriber got %d of 200", got)
	}
}
