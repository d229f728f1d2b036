// Package pipeline is loomd's OpenFlow pipeline, declared once: the
// tables in the order a packet meets them, the app that owns each, where
// a table continues, the priority bands every app holds in every table it
// writes (priorities.go), and every app's cookie id (apps.go). Apps take
// their table ids, next tables and priorities from here; nothing else
// writes a table id.
//
//	0 classify   (vlan)  which network a frame belongs to, by port and tag
//	1 acl        (acl)   stateful networks send IP through conntrack
//	2 acl-rules  (acl)   ordered rules and each network's default policy
//	3 l2-learn   (l2)    known (port, VLAN, source MAC) pairs; the rest to Loom
//	4 l2-forward (l2)    learned destinations; per-network flooding (vlan)
//
// To add a table: add its constant to the list below where a packet
// should meet it and its stage to stages; the ids after it move up by
// one, and every flow that continues "after" a table (Next) follows.
// An app that continues to the rest of the pipeline says Next(itsTable),
// never the name of the table it happens to reach today.
//
// To add an app: give it a cookie id in apps.go (never reuse one: the
// cookies of an earlier run name the app that made them), its tables here
// if it owns any, and its bands in priorities.go for every table it
// writes; then its folder under apps/ and one line in cmd/loomd's
// pipelineApps. The tests in this package check the bands and ids.
package pipeline

import (
	"fmt"

	"github.com/loomsdn/loom/flow"
)

// Tables, in the order a packet meets them: an id is a position.
const (
	Classify uint8 = iota
	ACL
	ACLRules
	L2Learn
	L2Forward

	numTables
)

// Stage is one table of the pipeline.
type Stage struct {
	Name  string // in logs, `loomctl get flows` and docs
	Owner string // the app that declares the table (its miss flow, its fields)
}

var stages = [numTables]Stage{
	Classify:  {Name: "classify", Owner: "vlan"},
	ACL:       {Name: "acl", Owner: "acl"},
	ACLRules:  {Name: "acl-rules", Owner: "acl"},
	L2Learn:   {Name: "l2-learn", Owner: "l2"},
	L2Forward: {Name: "l2-forward", Owner: "l2"},
}

// Stages returns the pipeline's stages in order (index = table id).
func Stages() []Stage { return stages[:] }

// Next is the table a packet continues at after table t: the next stage
// in order. The last table has none; asking for it is a wiring mistake.
func Next(t uint8) uint8 {
	if t+1 >= numTables {
		panic(fmt.Sprintf("pipeline: table %d is the last; nothing follows it", t))
	}
	return t + 1
}

// Table is table t as its owner declares it: id, name, owner and next
// table from the registry; what a miss does and the fields its flows may
// match are the owner's to say.
func Table(t uint8, miss flow.Miss, match flow.Fields) flow.Table {
	s := stages[t]
	tbl := flow.Table{ID: t, Name: s.Name, Owner: s.Owner, Miss: miss, Match: match}
	if miss == flow.MissNext {
		tbl.Next = Next(t)
	}
	return tbl
}
