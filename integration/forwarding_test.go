package integration

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVMsPingOnlyThroughLoom(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	if vm1.CanPing(vm2.IP) {
		t.Fatal("VMs ping each other on a secure bridge with no controller")
	}
	l := connectLoom(t, lab, br, vm1, vm2)
	// TCP too: a listener in one VM, a connect from the other.
	lab.Start("listener", vm2.NS, nil, "nc", "-l", "-k", "-p", "8080")
	waitFor(t, "TCP connect through Loom", 10*time.Second, func() bool {
		_, err := vm1.Exec("nc", "-z", "-w", "2", vm2.IP, "8080")
		return err == nil
	})
	flows := onlyLoomFlows(t, br)
	// The learned MACs are there, each pointing at its VM's port.
	for _, vm := range []struct{ mac, port string }{{vm1.MAC, vm1.Port}, {vm2.MAC, vm2.Port}} {
		ofport, err := hv.OfPort(vm.port)
		if err != nil {
			t.Fatal(err)
		}
		want := "dl_dst=" + vm.mac + " actions=output:" + itoa(ofport)
		if !containsLine(flows, want) {
			t.Errorf("no flow %q in:\n%s", want, strings.Join(flows, "\n"))
		}
	}
	if p := l.problems(); len(p) > 0 {
		t.Errorf("loomd logged problems:\n%s", strings.Join(p, "\n"))
	}
}

func TestKill9KeepsForwardingAndRestartReconnects(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)

	l.proc.Kill9()
	waitFor(t, "OVS to notice the controller is gone", 15*time.Second, func() bool { return !br.IsConnected() })
	// fail_mode=secure keeps the flows: forwarding goes on without Loom.
	if err := vm1.Ping(vm2.IP, 5, 10*time.Second); err != nil {
		t.Fatalf("ping with loomd dead: %v", err)
	}
	onlyLoomFlows(t, br)

	l.start(t) // same socket path, same database
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatalf("switch did not reconnect to the restarted loomd: %v", err)
	}
	waitFor(t, "restarted loomd to report the switch", 10*time.Second, func() bool {
		return strings.Contains(l.proc.Log(), "switch connected")
	})
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	onlyLoomFlows(t, br)
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
