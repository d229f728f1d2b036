package controller

import (
	"context"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/ovsdb"
)

// rowOwner is one app's wish for a bridge column's row.
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
		columns := map[string]bool{}
		for c := range want {
			columns[c] = true
		}
		for c := range b.Attached {
			columns[c] = true
		}
		for _, column := range sortedKeys(columns) {
			h.reconcileRow(cl, snap.Name, b, column, want, mayAdd)
		}
	}
}

// reconcileRow brings one column of b to what the apps want.
func (h *hypervisors) reconcileRow(cl *ovsdb.Client, hv string, b ovsdb.Bridge, column string, want map[string]rowOwner, mayAdd func() bool) {
	w, wanted := want[column]
	have, has := b.Attached[column]
	what := column + " of bridge " + b.Name
	switch {
	case wanted && has && have.Owner == w.app && ovsdb.SameRow(have.Row, w.row):
		// held as wanted
	case wanted && has && have.Owner == w.app:
		if mayAdd() {
			h.ovsdbDo(hv, b.Name, "column", column, "updated the "+what+" for "+w.app, func(ctx context.Context) error {
				return cl.UpdateAttached(ctx, b.Name, column, have.UUID, w.row, w.app)
			})
		}
	case wanted && has:
		h.c.warnOnce("row-foreign/"+hv+"/"+b.Name+"/"+column, h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "column": column, "app": w.app}),
			"the bridge already has a "+column+" setting Loom did not make for this app; Loom leaves it alone")
	case wanted:
		if mayAdd() {
			h.ovsdbDo(hv, b.Name, "column", column, "set the "+what+" for "+w.app, func(ctx context.Context) error {
				return cl.SetAttached(ctx, b.Name, column, w.row, w.app)
			})
		}
	case has && have.Owner != "" && h.c.runsApp(have.Owner):
		h.ovsdbDo(hv, b.Name, "column", column, "cleared the "+what+", which "+have.Owner+" no longer wants", func(ctx context.Context) error {
			return cl.ClearAttached(ctx, b.Name, column)
		})
	}
}

// wantedRows asks every declarer about b; the first app to want a column
// has it. A column Loom cannot attach rows to is refused, once.
func (h *hypervisors) wantedRows(hv string, b ovsdb.Bridge, declarers []apps.App) map[string]rowOwner {
	view := h.bridgeView(hv, b)
	want := map[string]rowOwner{}
	for _, a := range declarers {
		for column, r := range a.(apps.BridgeRowDeclarer).BridgeRows(view) {
			log := h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": b.Name, "column": column, "app": a.Name()})
			if !ovsdb.Attachable(column, r) {
				h.c.warnOnce("row-bad/"+a.Name()+"/"+column, log, "an app declared a bridge row Loom cannot make; ignored")
				continue
			}
			if other, taken := want[column]; taken {
				h.c.warnOnce("row-twice/"+a.Name()+"/"+column, log.WithField("holder", other.app), "two apps want the same bridge column; the first keeps it")
				continue
			}
			want[column] = rowOwner{app: a.Name(), row: r}
		}
	}
	return want
}

// rowDeclarers are the apps that declare bridge rows.
func (c *Controller) rowDeclarers() []apps.App { return appsWith[apps.BridgeRowDeclarer](c.apps) }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
