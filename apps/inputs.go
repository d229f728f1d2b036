package apps

// Dependent is an app that reads another app's state while it computes:
// vlan floods each network through the tunnel mesh's view of it, l2
// floods through vlan's networks. Inputs names those apps. The controller
// gives every input its turn before the app's own, in every event and
// every refresh of a switch, and refuses to start when an input names no
// app or the inputs form a cycle. The order apps are listed in is then
// only the tie-break, never a hidden contract.
//
// What an app reads from its inputs is a read-only answer computed from
// their last declarations (a copy: flood actions, a port's mode), never
// their mutable state.
type Dependent interface {
	Inputs() []string
}

// RuleKeyer is the app that enforces the network policy's named rules
// (ACL rules): RuleKey is the key it declares a rule's flows under, so
// the API can report each rule's packet and byte counters from the
// switches' flow statistics.
type RuleKeyer interface {
	RuleKey(rule string) string
}
