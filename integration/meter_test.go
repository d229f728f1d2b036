package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The switch itself rate-limits packet-ins: Loom sets OVS's controller
// meter at connect (replacing one an earlier run left), a VM flooding
// frames from random sources has most of them dropped by the meter at the
// switch, and the VMs' own traffic still flows.
func TestPacketInMeterAtTheSwitch(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	cfg := writeConfig(t, lab, "loom.yaml", "openflow:\n  packet_in_rate: 50\n")
	attachLoom(t, lab, br, "--config", cfg)
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	var meters string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		meters, err = br.Ofctl("dump-meters")
		if strings.Contains(meters, "meter=controller") && strings.Contains(meters, "rate=50") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no controller meter on the switch: %v\n%s", err, meters)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(meters, "pktps") {
		t.Fatalf("meter not in packets/s:\n%s", meters)
	}

	if out, err := vm1.Exec(rawframeBin, "flood", "eth1", "20000"); err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	var stats string
	dropped := 0
	waitFor(t, "the meter dropping packet-ins", 10*time.Second, func() bool {
		stats, _ = br.Ofctl("meter-stats", "meter=controller")
		// "bands:\n0: packet_count:N": what band 0 (drop) dropped.
		m := regexp.MustCompile(`(?m)^\s*0: packet_count:(\d+)`).FindStringSubmatch(stats)
		if m == nil {
			return false
		}
		dropped, _ = strconv.Atoi(m[1])
		return dropped > 0
	})
	t.Logf("meter stats after 20000 frames from random sources:\n%s", stats)
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the flood: %v", err)
	}
}
