package controller

import (
	"context"
	"maps"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/ovsdb"
)

// portOwner is one app's wish for a port: the app (whose name is the
// row's loom-owned stamp) and the port.
type portOwner struct {
	app  string
	port apps.OVSDBPort
}

// declaredPorts makes every bridge of snap hold exactly the ports the
// apps declare (apps.OVSDBDeclarer): add what is wanted and missing,
// replace an app's port whose type or options moved, remove an app's
// ports nobody wants. A port Loom did not make is never touched, even
// when it carries a name an app wants; a port stamped by an app that is
// not running here is left alone too (a newer Loom's, or an app turned
// off: Loom cannot tell which, and removing is not undoable).
func (h *hypervisors) declaredPorts(cl *ovsdb.Client, snap ovsdb.Hypervisor) {
	declarers := h.c.ovsdbDeclarers()
	if len(declarers) == 0 {
		return
	}
	for _, b := range snap.Bridges {
		// Another controller's bridge is not ours to change, and a
		// contested dpid gets no change at all (identity.go).
		if h.c.passive(b.DPID) || h.contested(b.DPID) {
			continue
		}
		want := h.wantedPorts(snap.Name, b, declarers)
		for _, p := range b.Ports {
			w, wanted := want[p.Name]
			switch {
			case wanted && p.LoomOwned == w.app && samePort(p, w.port):
				delete(want, p.Name) // held as wanted
			case wanted && p.LoomOwned == w.app: // the app's, but its type or options moved
				h.ovsdbDo(snap.Name, b.Name, "port", p.Name, "removed a port of "+w.app+"'s to replace it", func(ctx context.Context) error {
					return cl.RemovePort(ctx, b.Name, p.Name)
				})
			case wanted:
				delete(want, p.Name) // the name is taken by a port Loom did not make for this app
				h.c.warnOnce("port-foreign/"+snap.Name+"/"+b.Name+"/"+p.Name, h.c.log.WithFields(logrus.Fields{"hypervisor": snap.Name, "bridge": b.Name, "port": p.Name, "app": w.app}),
					"a port with the name an app wants is not that app's; Loom leaves it alone and adds none")
			case p.LoomOwned != "" && h.c.runsApp(p.LoomOwned):
				h.ovsdbDo(snap.Name, b.Name, "port", p.Name, "removed a port "+p.LoomOwned+" no longer needs", func(ctx context.Context) error {
					return cl.RemovePort(ctx, b.Name, p.Name)
				})
			}
		}
		// Asked only when there is something to add: the check logs a
		// refusal, and a bridge with nothing to add has nothing to refuse.
		if len(want) == 0 || !h.ours(snap.Name, b, true) {
			continue
		}
		for name, w := range want {
			h.ovsdbDo(snap.Name, b.Name, "port", name, "added a port for "+w.app, func(ctx context.Context) error {
				return cl.AddPort(ctx, b.Name, ovsdb.PortSpec{Name: w.port.Name, Type: w.port.Type, Options: w.port.Options}, w.app)
			})
		}
	}
}

// wantedPorts asks every declarer about b; the first app to want a name
// has it (a second is logged once).
func (h *hypervisors) wantedPorts(hv string, b ovsdb.Bridge, declarers []apps.App) map[string]portOwner {
	view := h.bridgeView(hv, b)
	want := map[string]portOwner{}
	for _, a := range declarers {
		for _, p := range a.(apps.OVSDBDeclarer).BridgePorts(view) {
			if other, taken := want[p.Name]; taken {
				h.c.warnOnce("port-twice/"+a.Name()+"/"+p.Name, h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "port": p.Name, "app": a.Name(), "holder": other.app}),
					"two apps want a port of one name; the first keeps it")
				continue
			}
			want[p.Name] = portOwner{app: a.Name(), port: p}
		}
	}
	return want
}

// bridgeView is b as apps see it.
func (h *hypervisors) bridgeView(hv string, b ovsdb.Bridge) apps.HypervisorBridge {
	view := apps.HypervisorBridge{Hypervisor: hv, Name: b.Name, DPID: b.DPID, VMPorts: hasVMPorts(b),
		Known:   h.c.reg.get(b.DPID) != nil || h.c.cfg.Topology != nil && len(h.c.cfg.Topology.Ports(b.DPID)) > 0,
		AwayFor: h.c.reg.awayFor(b.DPID, time.Now())}
	for _, p := range b.Ports {
		view.Ports = append(view.Ports, apps.BridgePort{Name: p.Name, UUID: p.UUID})
	}
	return view
}

// samePort says whether the port OVSDB has is the one the app wants.
func samePort(have ovsdb.Port, want apps.OVSDBPort) bool {
	return have.Type == want.Type && maps.Equal(have.Options, want.Options)
}

// hasVMPorts says whether a port of b has a VM on it.
func hasVMPorts(b ovsdb.Bridge) bool {
	for _, p := range b.Ports {
		if p.AttachedMAC != "" || p.IfaceID != "" {
			return true
		}
	}
	return false
}

// ovsdbDeclarers are the apps that declare OVSDB ports.
func (c *Controller) ovsdbDeclarers() []apps.App { return appsWith[apps.OVSDBDeclarer](c.apps) }

// appsWith are the apps of list that have capability T.
func appsWith[T any](list []apps.App) []apps.App {
	var out []apps.App
	for _, a := range list {
		if _, ok := a.(T); ok {
			out = append(out, a)
		}
	}
	return out
}

// runsApp says whether an app of that name runs here.
func (c *Controller) runsApp(name string) bool {
	_, ok := c.appByName(name)
	return ok
}
