package harness

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The underlay of a multi-hypervisor lab.
//
// Hypervisors reach each other through a Fabric: one more lab namespace with
// a private OVS whose only bridge is a standalone learning switch (a Linux
// bridge is not an option: the kernel may lack the bridge module). Each
// hypervisor plugs into it with AddUplink:
//
//	fabric ns                      hypervisor ns
//	+--------------------+         +-------------------------------+
//	| bridge <fabric>    |  veth   | vswitch01 (standalone, NORMAL)|
//	|  u-<hv> ===========|=========|== eth0                        |
//	|  (standalone,      |         |   internal port vswitch01:    |
//	|   NORMAL)          |         |   tunnel endpoint IP, e.g.    |
//	+--------------------+         |   192.168.50.11/24            |
//	                               | vswitch02 (VMs, tunnel ports) |
//	                               +-------------------------------+
//
// Tunnel ports (vxlan, gre, ...) on other bridges of the hypervisor then use
// OVS userspace tunnelling: ovs-vswitchd encapsulates and decapsulates
// itself, picks the egress bridge from its route table (ovs/route/show; it
// mirrors the kernel routes of the hypervisor namespace, so the connected
// route of the IP on the uplink bridge's internal port is enough), and
// resolves the next hop by sending ARP requests from that bridge's internal
// port and snooping the replies (tnl/arp/show). The first tunnelled packets
// towards a peer whose MAC is not known yet are dropped while that ARP
// exchange happens (ofproto/trace on the VM bridge says "neighbor cache miss
// for <ip> on bridge vswitch01, sending ARP request", datapath action drop),
// so tests should ping with retries (VM.Ping does). No static ARP entries
// (tnl/arp/set) or extra routes (ovs/route/add) are needed.
//
// The uplink bridge stays in fail_mode=standalone, i.e. a plain NORMAL
// learning switch: in these labs it is NOT controlled by the controller,
// which only manages the VM bridges. Do not point a controller at it.

// underlayMTU is the MTU of the uplink veths and fabric ports. It leaves room
// for the VXLAN (50 bytes) or GRE-with-key (42 bytes) header around a
// 1500-byte VM frame, so VMs with the default MTU of 1500 can send full-size
// packets through a tunnel. (ovs-vswitchd sends tunnel packets straight out
// of eth0, so the MTU of the uplink bridge's internal port does not matter.)
const underlayMTU = 1600

// Fabric is the underlay switch every hypervisor uplink is plugged into.
type Fabric struct {
	Name   string
	NS     string      // network namespace of the fabric switch
	H      *Hypervisor // the OVS instance that runs the fabric switch
	Bridge *Bridge     // standalone learning switch, named like the fabric
}

// Fabric creates the underlay network called name: a lab namespace with a
// private OVS (like Hypervisor) and one bridge, also called name, in
// fail_mode=standalone so it forwards with NORMAL and needs no controller.
// The name lives in the same namespace as hypervisor and VM names and is
// prefixed by the lab id like them, so parallel labs can each have a fabric
// of the same name.
func (l *Lab) Fabric(name string) *Fabric {
	l.t.Helper()
	h := l.Hypervisor(name)
	br := h.AddBridge(name, 0xfab)
	br.SetFailMode("standalone")
	return &Fabric{Name: name, NS: h.NS, H: h, Bridge: br}
}

// portName is the fabric end of the uplink veth of hypervisor h.
func (f *Fabric) portName(h *Hypervisor) string { return "u-" + h.Name }

// AddUplink connects h to the underlay f and makes br, which should be a
// bridge of h created for the purpose (conventionally "vswitch01"), the
// hypervisor's tunnel endpoint:
//
//   - a veth pair joins "eth0" in h's namespace, added as a port of br, to
//     "u-"+h.Name in the fabric namespace, added to the fabric bridge; both
//     ends get MTU 1600 (see underlayMTU) and checksum offload off;
//   - br's internal interface (the bridge's own port, named br.Name) in h's
//     namespace gets cidr (e.g. "192.168.50.11/24") and is brought up; the
//     resulting connected route is what ovs-vswitchd uses to send tunnel
//     packets out of br, and AddUplink waits until ovs/route/show lists it;
//   - br is set to fail_mode=standalone (NORMAL): the uplink bridge is not
//     controlled by the controller in these labs.
//
// The address (without prefix length) is stored in h.TunnelIP and br in
// h.UplinkBridge. A hypervisor has at most one uplink. AddUplink may come
// before or after tunnel ports are added to other bridges.
//
// The endpoint survives KillVswitchd/StartVswitchd: the internal port is a
// persistent tap that keeps its IP and MAC, and the restarted daemon reads
// the route again. Flows do not survive; the controller (or the test) must
// reinstall them.
func (h *Hypervisor) AddUplink(f *Fabric, br *Bridge, cidr string) {
	l := h.lab
	l.t.Helper()
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		l.t.Fatalf("harness: uplink of %s: want an IPv4 CIDR like 192.168.50.11/24, got %q", h.Name, cidr)
	}
	if br.H != h {
		l.t.Fatalf("harness: uplink of %s: bridge %s belongs to hypervisor %s", h.Name, br.Name, br.H.Name)
	}
	if f.H == h {
		l.t.Fatalf("harness: uplink of %s: a fabric cannot uplink to itself", h.Name)
	}
	if h.TunnelIP != "" {
		l.t.Fatalf("harness: hypervisor %s already has an uplink (%s)", h.Name, h.TunnelIP)
	}

	br.SetFailMode("standalone")

	const eth0 = "eth0"
	peer := f.portName(h)
	mtu := fmt.Sprint(underlayMTU)
	// Created directly across the two namespaces, never in the root one.
	steps := [][]string{
		{"ip", "-n", h.NS, "link", "add", eth0, "mtu", mtu, "type", "veth", "peer", "name", peer, "mtu", mtu, "netns", f.NS},
		inNS(h.NS, "ethtool", "-K", eth0, "tx", "off"),
		inNS(f.NS, "ethtool", "-K", peer, "tx", "off"),
		{"ip", "-n", h.NS, "link", "set", eth0, "up"},
		{"ip", "-n", f.NS, "link", "set", peer, "up"},
	}
	for _, s := range steps {
		if _, err := run(cmdTimeout, nil, s[0], s[1:]...); err != nil {
			l.t.Fatalf("harness: uplink of %s: %v", h.Name, err)
		}
	}
	if _, err := f.H.Vsctl("add-port", f.Bridge.Name, peer); err != nil {
		l.t.Fatalf("harness: uplink of %s: fabric port: %v", h.Name, err)
	}
	if _, err := h.Vsctl("add-port", br.Name, eth0); err != nil {
		l.t.Fatalf("harness: uplink of %s: %v", h.Name, err)
	}
	for _, p := range []struct {
		h    *Hypervisor
		port string
	}{{f.H, peer}, {h, eth0}} {
		if _, err := p.h.OfPort(p.port); err != nil {
			l.t.Fatalf("harness: uplink of %s: %v", h.Name, err)
		}
	}

	// The internal port is a tap device ovs-vswitchd created in h's
	// namespace when the bridge was added.
	for _, s := range [][]string{
		{"ip", "-n", h.NS, "addr", "add", cidr, "dev", br.Name},
		{"ip", "-n", h.NS, "link", "set", br.Name, "up"},
	} {
		if _, err := run(cmdTimeout, nil, s[0], s[1:]...); err != nil {
			l.t.Fatalf("harness: uplink of %s: %v", h.Name, err)
		}
	}

	// ovs-vswitchd learns the connected route over rtnetlink; wait for it
	// so tunnels work as soon as AddUplink returns.
	if err := waitFor(10*time.Second, 50*time.Millisecond, func() error {
		return h.hasOVSRoute(prefix.Masked(), br.Name)
	}); err != nil {
		l.t.Fatalf("harness: uplink of %s: ovs-vswitchd has no route to %s via %s: %v",
			h.Name, prefix.Masked(), br.Name, err)
	}

	h.TunnelIP = prefix.Addr().String()
	h.UplinkBridge = br
}

// hasOVSRoute checks that ovs-vswitchd's route table (ovs/route/show) has a
// route for dst out of dev. Its lines look like
// "Cached: 192.168.50.0/24 dev vswitch01 SRC 192.168.50.11".
func (h *Hypervisor) hasOVSRoute(dst netip.Prefix, dev string) error {
	out, err := h.Appctl("ovs/route/show")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+2 < len(f); i++ {
			if f[i] == dst.String() && f[i+1] == "dev" && f[i+2] == dev {
				return nil
			}
		}
	}
	return fmt.Errorf("ovs/route/show:\n%s", out)
}

// TunnelState returns ovs-vswitchd's userspace tunnelling state, for
// debugging: its route table, tunnel neighbour (ARP) cache and tunnel ports.
func (h *Hypervisor) TunnelState() string {
	var b strings.Builder
	for _, cmd := range []string{"ovs/route/show", "tnl/arp/show", "tnl/ports/show -v"} {
		out, err := h.Appctl(strings.Fields(cmd)...)
		if err != nil {
			fmt.Fprintf(&b, "--- %s: %v\n", cmd, err)
			continue
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", cmd, out)
	}
	return b.String()
}
