// Package vlan puts switch ports into networks: it classifies every frame
// entering a port into one VLAN (pushing the access VLAN on untagged
// frames, admitting a trunk's allowed tags), drops what a port may not
// carry, and floods within a VLAN only. Which port carries which VLAN
// comes from the network policy (package network) and what OVSDB says
// about the port (its tag, its VM).
//
// Inside the pipeline every frame of a network carries its VLAN tag;
// frames of the default segment (ports in no network) carry none. The tag
// comes off again on the way out of an access port.
package vlan

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// ID is the vlan app's cookie id.
const ID = pipeline.AppVLAN

// Remote extends a network's flooding beyond the switch: the tunnel mesh
// (apps/tunnel) returns the actions that reach the other hypervisors with
// ports in the network, for a frame already without its tag.
type Remote interface {
	Name() string // the app's: the classifier declares it as an input
	FloodActions(dpid uint64, vid uint16) []flow.Action
}

// App is the VLAN classifier.
type App struct {
	policy *network.Holder
	top    *topology.Topology // nil: ports are known by name only
	remote Remote             // nil: flooding stays on the switch

	mu                sync.Mutex
	modes             map[uint64]map[uint32]network.Mode // dpid -> port -> mode, as last declared
	ports             map[uint64][]apps.Port             // dpid -> the ports last computed for
	apps.Declarations                                    // the keys declared per switch; Restore
}

// New returns the app; top may be nil.
func New(policy *network.Holder, top *topology.Topology) *App {
	return &App{policy: policy, top: top, modes: map[uint64]map[uint32]network.Mode{}, ports: map[uint64][]apps.Port{}}
}

// FloodBeyond makes every network's flood also reach what r returns.
func (a *App) FloodBeyond(r Remote) { a.remote = r }

// Inputs implements apps.Dependent: the flood flows read the remote's
// view, so it computes first.
func (a *App) Inputs() []string {
	if a.remote == nil {
		return nil
	}
	return []string{a.remote.Name()}
}

// Name implements apps.App.
func (a *App) Name() string { return "vlan" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App. The classify table drops what no flow
// admits: a tagged frame on an access port, a VLAN a trunk may not carry.
func (a *App) Tables() []flow.Table {
	return []flow.Table{pipeline.Table(pipeline.Classify, flow.MissDrop,
		flow.FieldInPort|flow.FieldVLAN|flow.FieldEthType|flow.FieldEthSrc|flow.FieldTunID|flow.FieldTunSrc)}
}

// SwitchUp implements apps.SwitchHandler.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) { a.Refresh(ctx, sw) }

// SwitchDown implements apps.SwitchHandler; declarations stay for the
// switch's return.
func (a *App) SwitchDown(apps.Context, uint64) {}

// PortChanged implements apps.PortHandler. A Refresh follows through the
// topology too, but the OpenFlow event alone must be enough.
func (a *App) PortChanged(ctx apps.Context, dpid uint64, change apps.PortChange, port apps.Port) {
	a.mu.Lock()
	var ports []apps.Port
	for _, p := range a.ports[dpid] {
		if p.No != port.No {
			ports = append(ports, p)
		}
	}
	a.mu.Unlock()
	if change != apps.PortDeleted {
		ports = append(ports, port)
	}
	a.Refresh(ctx, apps.Switch{DPID: dpid, Ports: ports})
}

// Refresh implements apps.Refresher: it recomputes every flow the app
// wants on sw from the running policy and declares the difference.
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) {
	modes, decl := compute(a.policy.Policy(), a.top, sw, a.remote)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.modes[sw.DPID] = modes
	a.ports[sw.DPID] = append([]apps.Port(nil), sw.Ports...)
	a.Replace(ctx, sw.DPID, decl)
}

// Mode returns how a port carries networks, as last declared.
func (a *App) Mode(dpid uint64, port uint32) (network.Mode, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.modes[dpid][port]
	return m, ok
}

// FloodActions returns the actions that flood a frame of vid (carrying its
// tag, as inside the pipeline) to every port of dpid in that network.
func (a *App) FloodActions(dpid uint64, vid uint16) []flow.Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return floodActions(a.modes[dpid], vid)
}

// compute is the app as a pure function: the ports' modes and the flows
// (by key) the policy wants on sw. Plans (dry runs) call it with a policy
// that is not running.
func compute(p *network.Policy, top *topology.Topology, sw apps.Switch, remote Remote) (map[uint32]network.Mode, map[string][]flow.Flow) {
	modes := make(map[uint32]network.Mode, len(sw.Ports))
	for _, port := range sw.Ports {
		if port.No >= reservedPorts {
			continue
		}
		tp := topology.Port{DPID: sw.DPID, No: port.No, Name: port.Name}
		if top != nil {
			if known, ok := top.Port(sw.DPID, port.No); ok {
				tp = known
			}
		}
		if tp.Tunnel != nil {
			continue // tunnel ports belong to the mesh (apps/tunnel), classified by VNI
		}
		modes[port.No] = p.Mode(tp)
	}
	decl := make(map[string][]flow.Flow, len(modes)+4)
	vids := map[uint16]bool{}
	for no, m := range modes {
		decl[fmt.Sprintf("port/%d", no)] = classify(no, m)
		for _, v := range m.Tagged {
			vids[v] = true
		}
		if m.UntaggedOK {
			vids[m.Untagged] = true
		}
	}
	for vid := range vids {
		acts := floodActions(modes, vid)
		if remote != nil {
			if beyond := remote.FloodActions(sw.DPID, vid); len(beyond) > 0 {
				if vid != network.DefaultSegment && !slices.Contains(acts, flow.PopVLAN()) {
					acts = append(acts, flow.PopVLAN())
				}
				acts = append(acts, beyond...)
			}
		}
		if len(acts) > 0 {
			decl[fmt.Sprintf("flood/%d", vid)] = []flow.Flow{{Table: pipeline.L2Forward, Priority: pipeline.VLANFlood,
				Match: network.MatchVLAN(flow.Match{}, vid), Actions: acts}}
		}
	}
	return modes, decl
}

// reservedPorts starts OpenFlow's reserved port numbers (LOCAL and up),
// which are not members of anything.
const reservedPorts = 0xffffff00

// classify admits what a port may carry into the next table, tagged with
// its VLAN.
func classify(no uint32, m network.Mode) []flow.Flow {
	var fs []flow.Flow
	in := flow.Match{}.InPort(no)
	if m.UntaggedOK {
		f := flow.Flow{Table: pipeline.Classify, Priority: pipeline.VLANClassify, Match: in.Untagged()}
		if m.Untagged != network.DefaultSegment {
			f.Actions = []flow.Action{flow.PushVLAN(), flow.SetVLAN(m.Untagged)}
		}
		fs = append(fs, f.Then(pipeline.Next(pipeline.Classify)))
	}
	for _, v := range m.Tagged {
		fs = append(fs, flow.Flow{Table: pipeline.Classify, Priority: pipeline.VLANClassify, Match: in.VLAN(v)}.Then(pipeline.Next(pipeline.Classify)))
	}
	return fs
}

// floodActions outputs to the tagged members first, then pops the tag for
// the untagged ones; OVS skips the ingress port itself.
func floodActions(modes map[uint32]network.Mode, vid uint16) []flow.Action {
	var tagged, untagged []uint32
	for no, m := range modes {
		switch t, ok := m.Carries(vid); {
		case ok && t:
			tagged = append(tagged, no)
		case ok:
			untagged = append(untagged, no)
		}
	}
	sort.Slice(tagged, func(i, j int) bool { return tagged[i] < tagged[j] })
	sort.Slice(untagged, func(i, j int) bool { return untagged[i] < untagged[j] })
	var acts []flow.Action
	for _, no := range tagged {
		acts = append(acts, flow.Output(no))
	}
	if len(untagged) > 0 && vid != network.DefaultSegment {
		acts = append(acts, flow.PopVLAN())
	}
	for _, no := range untagged {
		acts = append(acts, flow.Output(no))
	}
	return acts
}

// Plan implements apps.Planner.
func (a *App) Plan(p *network.Policy, sw apps.Switch) map[string][]flow.Flow {
	_, decl := compute(p, a.top, sw, a.remote)
	return decl
}
