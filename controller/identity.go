package controller

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/ovsdb"
)

// A bridge is Loom's to change (fail_mode, an app's ports, any OVSDB row)
// only when all of these hold:
//
//  1. its OVSDB row says so: one of its controller targets means this
//     loomd (selfTargets). An operator makes a bridge Loom's with
//     `ovs-vsctl set-controller BR tcp:LOOM:6653`; a standalone bridge
//     nobody pointed at Loom is never touched, whatever connects
//     announcing its datapath id;
//  2. its datapath id is bound to this hypervisor and to no other: a
//     datapath id that two OVSDBs list is contested, and Loom writes to
//     neither OVSDB for it (topology/identity.go keeps the first claimant
//     bound; noteConflicts and Health say so);
//  3. for adding anything (fail_mode, a port): a session holds the
//     datapath id and connected from this hypervisor (topology Binding's
//     Identified: its remote IP is one of the hypervisor's addresses, or
//     both are unix sockets).
//
// One exception: Loom removes an app's own port (stamped
// loom-owned=<app>) from a bridge that stopped naming it or whose switch
// is gone for good, unless the dpid is contested: that is cleanup of what
// Loom itself made (hypervisors.declaredPorts).

// ours says whether Loom may change hypervisor hv's OVSDB rows of bridge b;
// needSession adds rule 3. A refusal that matters (a session holds the
// dpid) is logged once.
func (h *hypervisors) ours(hv string, b ovsdb.Bridge, needSession bool) bool {
	top := h.c.cfg.Topology
	if b.DPID == 0 || top == nil {
		return false // no binding to check: nothing is provably Loom's
	}
	held := h.c.reg.get(b.DPID) != nil
	log := func(why string) {
		if held && h.once(fmt.Sprintf("%s/%s/%x/%s", hv, b.Name, b.DPID, why)) {
			h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "dpid": fmt.Sprintf("0x%016x", b.DPID),
				"controllers": b.Controllers}).Warn(why + "; Loom leaves the bridge alone")
		}
	}
	if !h.c.self.anyMatches(b.Controllers) {
		log("a switch announces the datapath id of a bridge whose controller targets do not name this loomd (if one of them is this loomd by another address or name, list it in openflow.targets)")
		return false
	}
	bind := top.Bind(b.DPID)
	if bind.Contested() || bind.Hypervisor != hv {
		return false // noteConflicts says so
	}
	if needSession && !bind.Identified {
		log("the switch holding this bridge's datapath id did not connect from the bridge's hypervisor")
		return false
	}
	return true
}

// contested says whether more than one OVSDB lists dpid (and so Loom
// writes to none of them for it). Without a topology nothing is bound, and
// everything counts as contested.
func (h *hypervisors) contested(dpid uint64) bool {
	top := h.c.cfg.Topology
	return top == nil || top.Bind(dpid).Contested()
}

// maxNoted bounds what the hypervisors remember having logged: the keys
// come from OVSDB rows and switch connections.
const maxNoted = 4096

// once says whether key is new (and remembers it, up to maxNoted keys).
func (h *hypervisors) once(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.noted == nil {
		h.noted = map[string]bool{}
	}
	if h.noted[key] || len(h.noted) >= maxNoted {
		return false
	}
	h.noted[key] = true
	return true
}

// noteConflicts logs each contested datapath id once per set of
// claimants, naming them all.
func (h *hypervisors) noteConflicts() {
	top := h.c.cfg.Topology
	if top == nil {
		return
	}
	// Every OVSDB change of every hypervisor comes here: read the claims
	// only when they changed.
	gen := top.ClaimsGeneration()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conflictsRead && h.conflictsGen == gen {
		return
	}
	h.conflictsGen, h.conflictsRead = gen, true
	conflicts := top.Conflicts()
	next := make(map[uint64]string, min(len(conflicts), maxNoted))
	for _, cf := range conflicts {
		if len(next) >= maxNoted {
			break
		}
		k := strings.Join(cf.Claimants, ",")
		if h.conflicts[cf.DPID] != k {
			h.c.log.WithFields(logrus.Fields{"dpid": fmt.Sprintf("0x%016x", cf.DPID), "bound": cf.Claimants[0],
				"ignored": strings.Join(cf.Claimants[1:], ",")}).
				Warn("two OVSDBs list the same datapath id: the hypervisor that listed it first keeps it, and Loom changes neither OVSDB's rows for it")
		}
		next[cf.DPID] = k
	}
	h.conflicts = next
}

// maxConflictsListed is how many contested datapath ids health names.
const maxConflictsListed = 20

// identityConditions are, for Health, the contested datapath ids and the
// switches that connected from elsewhere than the hypervisor whose OVSDB
// lists their datapath id (that OVSDB's ports, tags and VM identities are
// then not applied: an operator needs to know why).
func (c *Controller) identityConditions() []apps.Condition {
	top := c.cfg.Topology
	if top == nil {
		return nil
	}
	var out, strangers []apps.Condition
	for _, s := range c.reg.list() {
		b := top.Bind(s.dpid)
		if b.Hypervisor == "" || b.Identified || b.Contested() {
			continue
		}
		strangers = append(strangers, apps.Condition{Kind: "switch", Subject: switchName(s.dpid, b.Hypervisor, b.Bridge),
			Message: fmt.Sprintf("connected from %s, not from hypervisor %s's addresses: its OVSDB's ports, tags and VM identities are not applied (set the hypervisor's tunnel_ip if its switches connect from another address)", s.remote, b.Hypervisor)})
	}
	if len(strangers) > maxConflictsListed {
		rest := len(strangers) - maxConflictsListed
		sort.Slice(strangers, func(i, j int) bool { return strangers[i].Subject < strangers[j].Subject })
		strangers = append(strangers[:maxConflictsListed], apps.Condition{Kind: "switch", Subject: "strangers",
			Message: fmt.Sprintf("%d more switches connected from elsewhere than their hypervisor", rest)})
	}
	out = append(out, strangers...)
	conflicts := top.Conflicts()
	for i, cf := range conflicts {
		if i == maxConflictsListed {
			out = append(out, apps.Condition{Kind: "ovsdb", Subject: "conflicts",
				Message: fmt.Sprintf("%d more datapath ids listed by more than one OVSDB", len(conflicts)-i)})
			break
		}
		out = append(out, apps.Condition{Kind: "ovsdb", Subject: fmt.Sprintf("0x%016x", cf.DPID),
			Message: fmt.Sprintf("datapath id listed by two OVSDBs: %s (first, kept) and %s (ignored); Loom changes neither OVSDB's rows for this bridge",
				cf.Claimants[0], strings.Join(cf.Claimants[1:], ", "))})
	}
	return out
}
