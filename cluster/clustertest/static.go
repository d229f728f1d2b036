// Package clustertest is a fixed cluster for tests of what reads one
// (the API, loomctl): it satisfies controller.Mastership.
package clustertest

import "github.com/loomsdn/loom/cluster"

// Static is a cluster whose masters and instances never change.
type Static struct {
	Masters map[uint64]string // switch -> master instance
	List    []cluster.InstanceState
	Self    string // this instance's name
}

// Reach registers nothing: the roles never change.
func (s *Static) Reach(uint64, func(cluster.Role)) func() { return func() {} }

// Master names dpid's master.
func (s *Static) Master(dpid uint64) string { return s.Masters[dpid] }

// Name is this instance's name.
func (s *Static) Name() string { return s.Self }

// Healthy is always true.
func (s *Static) Healthy() (bool, string) { return true, "" }

// Instances lists the instances.
func (s *Static) Instances() []cluster.InstanceState { return s.List }
