package pipeline

import "github.com/loomsdn/loom/network"

// Priorities of every app's flows, by table, highest first. Priority 0
// is each table's miss flow, which the controller declares for the
// table's owner.
const (
	// classify: LLDP is caught before anything classifies it, then the
	// tunnel's probes, then frames by VNI (from the tunnel port) or by
	// port and tag (from every other port).
	DiscoveryVMDrop uint16 = 1100 // LLDP from a VM port: dropped, a VM cannot fake a link
	DiscoveryLLDP   uint16 = 1000 // LLDP from a switch port: to Loom
	TunnelProbe     uint16 = 200  // Loom's probes arriving through the tunnel
	TunnelClassify  uint16 = 100  // by VNI, on the tunnel port only
	VLANClassify    uint16 = 100  // by port and tag, on VM and trunk ports only

	// acl: IP of a stateful network through conntrack.
	ACLTrack uint16 = 100

	// acl-rules: conntrack's verdicts, the rules in order (the config
	// file's first, from ACLFirstRule down, then the API's, from
	// ACLFirstAPIRule down: each source has its own band, so a rule added
	// to one renumbers nothing of the other), the neighbour discovery a
	// default deny still lets through, the network's default.
	ACLInvalid      uint16 = 65100
	ACLEstablished  uint16 = 65000
	ACLFirstRule    uint16 = 60000
	ACLLastRule     uint16 = ACLFirstRule - network.MaxRulesPerSource + 1
	ACLFirstAPIRule uint16 = ACLLastRule - 1
	ACLLastAPIRule  uint16 = ACLFirstAPIRule - network.MaxRulesPerSource + 1
	ACLNeighbour    uint16 = 3
	ACLDefault      uint16 = 1

	// l2-learn and l2-forward: learned MACs above the tunnel's remote
	// MACs and bypass (a MAC that arrives locally wins at once), the
	// guard's refusals below both, the network's flooding last.
	L2MAC        uint16 = 100 // a learned (port, VLAN, MAC); in both tables
	TunnelBypass uint16 = 90  // l2-learn: frames from the tunnel skip learning
	TunnelRemote uint16 = 90  // l2-forward: a MAC on another hypervisor
	L2GuardOwn   uint16 = 60  // l2-learn: a VM port's own MAC passes
	L2GuardPass  uint16 = 50  // l2-learn: a source forwarded without learning
	L2GuardDrop  uint16 = 40  // l2-learn: a spoofing port's other sources
	VLANFlood    uint16 = 1   // l2-forward: a network's broadcast and unknown unicast
)

// Band is the priorities one app uses in one table. Two apps' bands in a
// table may overlap only when their flows can never match the same packet
// (Disjoint says why): OpenFlow leaves overlapping equal priorities
// undefined.
type Band struct {
	Table     uint8
	App       string
	Low, High uint16
	Disjoint  string
}

// Bands is every app's share of every table it writes.
var Bands = []Band{
	{Table: Classify, App: "discovery", Low: DiscoveryLLDP, High: DiscoveryVMDrop},
	{Table: Classify, App: "tunnel", Low: TunnelClassify, High: TunnelProbe, Disjoint: "matches in_port of the tunnel port, which vlan never classifies"},
	{Table: Classify, App: "vlan", Low: VLANClassify, High: VLANClassify, Disjoint: "matches in_port of VM and trunk ports, never the tunnel port"},
	{Table: ACL, App: "acl", Low: ACLTrack, High: ACLTrack},
	{Table: ACLRules, App: "acl", Low: ACLDefault, High: ACLInvalid},
	{Table: L2Learn, App: "l2", Low: L2GuardDrop, High: L2MAC, Disjoint: "matches in_port of VM and trunk ports, never the tunnel port"},
	{Table: L2Learn, App: "tunnel", Low: TunnelBypass, High: TunnelBypass, Disjoint: "matches in_port of the tunnel port"},
	{Table: L2Forward, App: "l2", Low: L2MAC, High: L2MAC},
	{Table: L2Forward, App: "tunnel", Low: TunnelRemote, High: TunnelRemote},
	{Table: L2Forward, App: "vlan", Low: VLANFlood, High: VLANFlood},
}
