// Package pipeline is the table layout of loomd's full pipeline: which
// table each app owns, in the order a packet meets them. Apps that stand
// alone (l2 in tests and benchmarks) take their table ids as options.
//
//	0 classify   (vlan)  which network a frame belongs to, by port and tag
//	1 acl        (acl)   stateful networks send IP through conntrack
//	2 acl-rules  (acl)   ordered rules and each network's default policy
//	3 l2-learn   (l2)    known (port, VLAN, source MAC) pairs; the rest to Loom
//	4 l2-forward (l2)    learned destinations; per-network flooding (vlan)
package pipeline

// Table ids.
const (
	Classify  uint8 = 0
	ACL       uint8 = 1
	ACLRules  uint8 = 2
	L2Learn   uint8 = 3
	L2Forward uint8 = 4
)
