package controller

import (
	"context"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/ovsdb"
)

// rowID is one row's place on a bridge: the port whose column it is (""
// for the bridge's), its column, and its name among the column's rows (a
// mirror's name; "" for a one-row column).
type rowID struct{ port, column, key string }

// rowOwner is one app's wish for a row.
type rowOwner struct {
	app string
	row any // a vswitch model
}

// declaredRows makes every bridge of snap refer to exactly the rows apps
// declare (apps.BridgeRowDeclarer), as declaredPorts does for ports.
func (h *hypervisors) declaredRows(cl *ovsdb.Client, snap ovsdb.Hypervisor) {
	declarers := h.c.rowDeclarers()
	if len(declarers) == 0 {
		return
	}
	for _, b := range snap.Bridges {
		if h.c.passive(b.DPID) || h.contested(b.DPID) {
			continue
		}
		want := h.wantedRows(snap.Name, b, declarers)
		// Asked only when a row is to be made or rewritten: the check logs
		// a refusal, and a bridge with nothing to change has none.
		mayAdd := sync.OnceValue(func() bool { return h.ours(snap.Name, b, true) })
		have := map[rowID]ovsdb.AttachedRow{}
		unread := map[[2]string]bool{} // (port, column)s the view cannot show yet: left for the next pass
		collect := func(port string, attached map[string][]ovsdb.AttachedRow) {
			for column, rows := range attached {
				for _, r := range rows {
					if r.Unread {
						unread[[2]string{port, column}] = true
					}
					have[rowID{port, column, r.Key}] = r
				}
			}
		}
		collect("", b.Attached)
		for _, p := range b.Ports {
			collect(p.Name, p.Attached)
		}
		ids := map[rowID]bool{}
		for id := range want {
			ids[id] = true
		}
		for id := range have {
			ids[id] = true
		}
		for _, id := range sortedRowIDs(ids) {
			if unread[[2]string{id.port, id.column}] {
				continue
			}
			w, wanted := want[id]
			r, has := have[id]
			h.reconcileRow(cl, snap.Name, b, id, w, wanted, r, has, mayAdd)
		}
	}
}

// reconcileRow brings one row of b to what the apps want.
func (h *hypervisors) reconcileRow(cl *ovsdb.Client, hv string, b ovsdb.Bridge, id rowID, w rowOwner, wanted bool,
	have ovsdb.AttachedRow, has bool, mayAdd func() bool) {
	what := id.column
	if id.key != "" {
		what += " " + id.key
	}
	if id.port != "" {
		what += " of port " + id.port
	}
	what += " of bridge " + b.Name
	switch {
	case wanted && has && have.Owner == w.app && ovsdb.SameRow(have.Row, w.row):
		// held as wanted
	case wanted && has && have.Owner == w.app:
		if mayAdd() {
			h.ovsdbDo(hv, b.Name, "column", id.column, "updated the "+what+" for "+w.app, func(ctx context.Context) error {
				return cl.UpdateAttached(ctx, b.Name, id.port, id.column, have.UUID, w.row, w.app)
			})
		}
	case wanted && has:
		h.c.warnOnce("row-foreign/"+hv+"/"+b.Name+"/"+id.port+"/"+id.column+"/"+id.key, h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "port": id.port, "column": id.column, "name": id.key, "app": w.app}),
			"the bridge already has a "+id.column+" row Loom did not make for this app; Loom leaves it alone")
	case wanted:
		if mayAdd() {
			h.ovsdbDo(hv, b.Name, "column", id.column, "set the "+what+" for "+w.app, func(ctx context.Context) error {
				return cl.SetAttached(ctx, b.Name, id.port, id.column, w.row, w.app)
			})
		}
	case has && have.Owner != "" && h.c.runsApp(have.Owner):
		h.ovsdbDo(hv, b.Name, "column", id.column, "cleared the "+what+", which "+have.Owner+" no longer wants", func(ctx context.Context) error {
			return cl.ClearAttached(ctx, b.Name, id.port, id.column, have.UUID)
		})
	}
}

// wantedRows asks every declarer about b; the first app to want a row
// has it. A row Loom cannot attach is refused, logged once.
func (h *hypervisors) wantedRows(hv string, b ovsdb.Bridge, declarers []apps.App) map[rowID]rowOwner {
	view := h.bridgeView(hv, b)
	want := map[rowID]rowOwner{}
	for _, a := range declarers {
		for _, r := range a.(apps.BridgeRowDeclarer).BridgeRows(view) {
			log := h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "column": r.Column, "app": a.Name()})
			if !ovsdb.Attachable(r.Column, r.Row) {
				h.c.warnOnce("row-bad/"+a.Name()+"/"+r.Column, log, "an app declared a bridge row Loom cannot make; ignored")
				continue
			}
			_, set, onPort, _ := ovsdb.AttachColumn(r.Column)
			if onPort != (r.Port != "") || onPort && !hasPort(b, r.Port) {
				h.c.warnOnce("row-place/"+a.Name()+"/"+r.Column+"/"+r.Port, log.WithField("port", r.Port),
					"an app declared a row for a port the bridge lacks, or a port for a bridge's column; ignored")
				continue
			}
			id := rowID{port: r.Port, column: r.Column}
			if set {
				id.key = ovsdb.RowKey(r.Row)
			}
			if other, taken := want[id]; taken {
				h.c.warnOnce("row-twice/"+a.Name()+"/"+r.Column+"/"+id.key, log.WithField("holder", other.app), "two apps (or one twice) want the same bridge row; the first keeps it")
				continue
			}
			want[id] = rowOwner{app: a.Name(), row: r.Row}
		}
	}
	return want
}

// rowDeclarers are the apps that declare bridge rows.
func (c *Controller) rowDeclarers() []apps.App { return appsWith[apps.BridgeRowDeclarer](c.apps) }

// hasPort says whether b has a port of that name.
func hasPort(b ovsdb.Bridge, name string) bool {
	for _, p := range b.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func sortedRowIDs(m map[rowID]bool) []rowID {
	out := make([]rowID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.port != b.port {
			return a.port < b.port
		}
		if a.column != b.column {
			return a.column < b.column
		}
		return a.key < b.key
	})
	return out
}
