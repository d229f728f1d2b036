package harness

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// VM is a network namespace standing in for a virtual machine: one interface
// "eth1", attached by a veth pair to a bridge port on a hypervisor.
type VM struct {
	Name string
	NS   string
	IP   string // address without prefix length, e.g. "10.0.0.1"
	MAC  string // MAC of eth1, e.g. "02:00:00:00:00:01"
	Port string // OVS port (the hypervisor end of the veth), "p-" + Name

	H      *Hypervisor
	Bridge *Bridge
}

// AddVM creates a VM namespace connected to br. eth1 gets cidr (e.g.
// "10.0.0.1/24") and a MAC derived from a per-lab counter (02:00:00:00:00:01,
// ...:02, ...), so MACs are predictable in tests. The hypervisor end of the
// veth is named "p-"+name and added to br as a port.
//
// The veth pair is created directly inside the two namespaces (never in the
// root namespace), so its names only need to be unique per namespace.
// Checksum offload is turned off on both ends: otherwise TCP through the
// userspace datapath carries bad checksums and is dropped.
func (h *Hypervisor) AddVM(name string, br *Bridge, cidr string) *VM {
	l := h.lab
	l.t.Helper()
	l.checkName("VM", name)
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		l.t.Fatalf("harness: VM %s: want an IPv4 CIDR like 10.0.0.1/24, got %q", name, cidr)
	}
	l.mu.Lock()
	l.macSeq++
	seq := l.macSeq
	l.mu.Unlock()

	vm := &VM{
		Name:   name,
		IP:     prefix.Addr().String(),
		MAC:    fmt.Sprintf("02:00:00:00:%02x:%02x", seq>>8&0xff, seq&0xff),
		Port:   "p-" + name,
		H:      h,
		Bridge: br,
	}
	vm.NS = l.newNetns(name)

	steps := [][]string{
		{"ip", "-n", h.NS, "link", "add", vm.Port, "type", "veth", "peer", "name", "eth1", "netns", vm.NS},
		{"ip", "-n", vm.NS, "link", "set", "eth1", "address", vm.MAC},
		{"ip", "-n", vm.NS, "addr", "add", cidr, "dev", "eth1"},
		inNS(vm.NS, "ethtool", "-K", "eth1", "tx", "off"),
		inNS(h.NS, "ethtool", "-K", vm.Port, "tx", "off"),
		{"ip", "-n", vm.NS, "link", "set", "eth1", "up"},
		{"ip", "-n", h.NS, "link", "set", vm.Port, "up"},
	}
	for _, s := range steps {
		if _, err := run(cmdTimeout, nil, s[0], s[1:]...); err != nil {
			l.t.Fatalf("harness: VM %s: %v", name, err)
		}
	}
	if _, err := h.Vsctl("add-port", br.Name, vm.Port); err != nil {
		l.t.Fatalf("harness: VM %s: %v", name, err)
	}
	if _, err := h.OfPort(vm.Port); err != nil {
		l.t.Fatalf("harness: VM %s: %v", name, err)
	}
	return vm
}

// OfPort is the OpenFlow port number of the VM's port on its bridge.
func (vm *VM) OfPort() (int, error) { return vm.H.OfPort(vm.Port) }

// Exec runs args (program first) inside the VM and returns combined output.
// It is for short commands: it gives up after 30s.
func (vm *VM) Exec(args ...string) (string, error) {
	return runIn(cmdTimeout, vm.NS, args...)
}

// Ping sends count pings to dstIP, 0.2s apart, and succeeds once count
// replies have arrived within timeout (lost packets are resent until the
// deadline). The error includes ping's output.
func (vm *VM) Ping(dstIP string, count int, timeout time.Duration) error {
	secs := int(math.Ceil(timeout.Seconds()))
	if secs < 1 {
		secs = 1
	}
	_, err := runIn(timeout+5*time.Second, vm.NS, "ping", "-n", "-q",
		"-c", strconv.Itoa(count), "-i", "0.2", "-W", "1", "-w", strconv.Itoa(secs), dstIP)
	if err != nil {
		return fmt.Errorf("VM %s: ping %s: %w", vm.Name, dstIP, err)
	}
	return nil
}

// CanPing makes one quick attempt (3 pings, 1s wait each) and reports
// whether any reply came back.
func (vm *VM) CanPing(dstIP string) bool {
	_, err := runIn(10*time.Second, vm.NS, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "1", dstIP)
	return err == nil
}
