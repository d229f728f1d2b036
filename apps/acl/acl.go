// Package acl enforces each network's ordered ACL rules and default
// policy, statelessly or through OVS conntrack.
//
// Two tables: "acl" sends the IP traffic of stateful networks through
// conntrack (zone = the network's VLAN) and continues at "acl-rules"; there
// invalid packets are dropped, established and related ones pass, and the
// rest meet the rules in order, then the network's default. An allowed
// packet of a stateful network is committed, so its replies are
// established. Frames of networks with nothing to enforce fall through
// both tables untouched.
package acl

import (
	"path"
	"sync"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

// ID is the acl app's cookie id.
const ID = pipeline.AppACL

// after is where a frame the ACL lets through continues: the stage after
// the ACL's own.
var after = pipeline.Next(pipeline.ACLRules)

// App is the ACL enforcer.
type App struct {
	policy *network.Holder

	mu                sync.Mutex
	apps.Declarations // the keys declared per switch; Restore, ForgetSwitch
}

// New returns the app.
func New(policy *network.Holder) *App { return &App{policy: policy} }

// Name implements apps.App.
func (a *App) Name() string { return "acl" }

// ID implements apps.App.
func (a *App) ID() flow.AppID { return ID }

// Tables implements apps.App.
func (a *App) Tables() []flow.Table {
	return []flow.Table{
		pipeline.Table(pipeline.ACL, flow.MissNext, flow.FieldVLAN|flow.FieldEthType),
		pipeline.Table(pipeline.ACLRules, flow.MissNext,
			flow.FieldInPort|flow.FieldVLAN|flow.FieldEthType|flow.FieldIPProto|flow.FieldIPSrc|flow.FieldIPDst|
				flow.FieldL4Src|flow.FieldL4Dst|flow.FieldICMPType|flow.FieldICMPCode|flow.FieldCTState),
	}
}

// SwitchUp implements apps.SwitchHandler.
func (a *App) SwitchUp(ctx apps.Context, sw apps.Switch) { a.Refresh(ctx, sw) }

// SwitchDown implements apps.SwitchHandler.
func (a *App) SwitchDown(apps.Context, uint64) {}

// Refresh implements apps.Refresher.
func (a *App) Refresh(ctx apps.Context, sw apps.Switch) {
	decl := Compute(a.policy.Policy(), sw)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Replace(ctx, sw.DPID, decl)
}

// RuleKey is the declaration key of a rule's flows, for its counters.
func RuleKey(name string) string { return "rule/" + name }

// RuleKey implements apps.RuleKeyer.
func (a *App) RuleKey(name string) string { return RuleKey(name) }

// Compute returns the flows (by key) the policy wants on sw.
func Compute(p *network.Policy, sw apps.Switch) map[string][]flow.Flow {
	decl := map[string][]flow.Flow{}
	for _, n := range p.Networks() {
		if fs := networkFlows(n); len(fs) > 0 {
			decl["net/"+n.Name] = fs
		}
	}
	for _, r := range p.Rules() {
		if fs := ruleFlows(r, rulePriority(r), p, sw); len(fs) > 0 {
			decl[RuleKey(r.Name)] = fs
		}
	}
	return decl
}

// rulePriority is a rule's flows' priority: by its place among the rules
// of its source (file or API), each source in its own band.
func rulePriority(r network.CompiledRule) uint16 {
	if r.FromAPI {
		return pipeline.ACLFirstAPIRule - uint16(r.Index)
	}
	return pipeline.ACLFirstRule - uint16(r.Index)
}

// networkFlows are a network's conntrack plumbing and default policy.
func networkFlows(n network.Network) []flow.Flow {
	vid := uint16(n.VLAN)
	in := flow.Match{}.VLAN(vid)
	var fs []flow.Flow
	if n.Stateful {
		for _, et := range []uint16{network.EthIPv4, network.EthIPv6} {
			fs = append(fs, flow.Flow{Table: pipeline.ACL, Priority: pipeline.ACLTrack, Match: in.EthType(et),
				Actions: []flow.Action{flow.CT(false, vid, pipeline.ACLRules)}})
		}
		pass := func(state uint32) flow.Flow {
			return flow.Flow{Table: pipeline.ACLRules, Priority: pipeline.ACLEstablished,
				Match: in.CTState(state|flow.CTTrk, state|flow.CTTrk)}.Then(after)
		}
		fs = append(fs,
			flow.Flow{Table: pipeline.ACLRules, Priority: pipeline.ACLInvalid, Match: in.CTState(flow.CTInv|flow.CTTrk, flow.CTInv|flow.CTTrk)},
			pass(flow.CTEst), pass(flow.CTRel))
	}
	if n.Default == "deny" {
		fs = append(fs,
			flow.Flow{Table: pipeline.ACLRules, Priority: pipeline.ACLNeighbour, Match: in.EthType(network.EthARP)}.Then(after),
			flow.Flow{Table: pipeline.ACLRules, Priority: pipeline.ACLDefault, Match: in})
		nd := in.EthType(network.EthIPv6).IPProto(58)
		for t := uint8(133); t <= 136; t++ { // router/neighbour solicitation and advertisement
			fs = append(fs, flow.Flow{Table: pipeline.ACLRules, Priority: pipeline.ACLNeighbour, Match: nd.ICMPType(t)}.Then(after))
		}
	}
	return fs
}

// ruleFlows expands one rule: per Ethernet type, input port and L4 port
// mask, one flow with the rule's verdict.
func ruleFlows(r network.CompiledRule, prio uint16, p *network.Policy, sw apps.Switch) []flow.Flow {
	base := []flow.Match{flow.Match{}.VLAN(r.VLAN)}
	if r.InPort != "" {
		base = base[:0]
		for _, port := range sw.Ports {
			if ok, _ := path.Match(r.InPort, port.Name); ok {
				base = append(base, flow.Match{}.VLAN(r.VLAN).InPort(port.No))
			}
		}
	}
	stateful := false
	if n, ok := p.Network(r.VLAN); ok {
		stateful = n.Stateful
	}
	var out []flow.Flow
	for _, m := range base {
		for _, em := range expand(r, m) {
			f := flow.Flow{Table: pipeline.ACLRules, Priority: prio, Match: em.Match}
			if r.Allow {
				if stateful && (em.ethType == network.EthIPv4 || em.ethType == network.EthIPv6) {
					f.Actions = []flow.Action{flow.CT(true, r.VLAN, flow.NoRecirc)}
				}
				f = f.Then(after)
			}
			out = append(out, f)
		}
	}
	return out
}

// typedMatch is a match with the Ethernet type it is for (0: any).
type typedMatch struct {
	flow.Match
	ethType uint16
}

// expand adds the rule's fields to m, one match per Ethernet type and L4
// port mask (OpenFlow matches ranges as several masked values).
func expand(r network.CompiledRule, m flow.Match) []typedMatch {
	ms := []typedMatch{{Match: m}}
	if len(r.EthTypes) > 0 {
		ms = ms[:0]
		for _, et := range r.EthTypes {
			ms = append(ms, typedMatch{m.EthType(et), et})
		}
	}
	var out []typedMatch
	for _, tm := range ms {
		m, v4 := tm.Match, tm.ethType == network.EthIPv4
		if r.Src.IsValid() {
			m = m.IPSrc(r.Src)
		}
		if r.Dst.IsValid() {
			m = m.IPDst(r.Dst)
		}
		if r.Proto != 0 {
			m = m.IPProto(r.Proto)
		}
		if (r.Proto == 1 && !v4) || (r.Proto == 58 && v4) {
			continue // ICMPv4 exists only over IPv4, ICMPv6 over IPv6
		}
		if r.ICMPType >= 0 {
			m = m.ICMPType(uint8(r.ICMPType))
		}
		if r.ICMPCode >= 0 {
			m = m.ICMPCode(uint8(r.ICMPCode))
		}
		for _, sp := range orAny(r.SrcPorts) {
			for _, dp := range orAny(r.DstPorts) {
				x := m
				if sp.Mask != 0 {
					x = x.L4Src(sp.Port, sp.Mask)
				}
				if dp.Mask != 0 {
					x = x.L4Dst(dp.Port, dp.Mask)
				}
				out = append(out, typedMatch{x, tm.ethType})
			}
		}
	}
	return out
}

// orAny is pms, or one "any port" entry when there are none.
func orAny(pms []network.PortMask) []network.PortMask {
	if len(pms) == 0 {
		return []network.PortMask{{}}
	}
	return pms
}

// Plan implements apps.Planner.
func (a *App) Plan(p *network.Policy, sw apps.Switch) map[string][]flow.Flow { return Compute(p, sw) }
