package ovsdb

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// A bridge refers to its sFlow, NetFlow and IPFIX settings through one
// column each, to one row of that table, and to its port mirrors through
// a set of Mirror rows. Apps declare such rows (BridgeRowDeclarer); this
// file reads them back and writes them, for any of those columns, with
// each row as a vswitch model.

// attachSpec is one Bridge or Port column Loom may attach rows to.
type attachSpec struct {
	table  string
	mk     func() model.Model // the row's model, for reading the cache
	set    bool               // a set of rows, each known by its name (else one row)
	onPort bool               // a Port's column (else a Bridge's)
	root   bool               // the table is a root: a row no longer referred to stays, so Loom deletes it
}

// attachColumns are the columns Loom may attach rows to: a bridge's
// sFlow, NetFlow, IPFIX and mirrors, and a port's QoS.
var attachColumns = map[string]attachSpec{
	"sflow":   {table: vswitch.SFlowTable, mk: func() model.Model { return &vswitch.SFlow{} }},
	"netflow": {table: vswitch.NetFlowTable, mk: func() model.Model { return &vswitch.NetFlow{} }},
	"ipfix":   {table: vswitch.IPFIXTable, mk: func() model.Model { return &vswitch.IPFIX{} }},
	"mirrors": {table: vswitch.MirrorTable, mk: func() model.Model { return &vswitch.Mirror{} }, set: true},
	"qos":     {table: vswitch.QoSTable, mk: func() model.Model { return &vswitch.QoS{} }, onPort: true, root: true},
}

// AttachColumn says whether column is a column Loom can attach rows to,
// the table of those rows, whether it holds a set of them, and whether it
// is a port's (else a bridge's).
func AttachColumn(column string) (table string, set, onPort, ok bool) {
	spec, ok := attachColumns[column]
	return spec.table, spec.set, spec.onPort, ok
}

// Attachable says whether row is a model Loom can attach through column:
// the model of that column's table (with a name, for a set column).
func Attachable(column string, row any) bool {
	spec, ok := attachColumns[column]
	if !ok || row == nil || reflect.TypeOf(row) != reflect.TypeOf(spec.mk()) || reflect.ValueOf(row).IsNil() {
		return false
	}
	return !spec.set || RowKey(row) != ""
}

// RowKey is what identifies a row of a set column among its siblings:
// its name ("" for a model without one).
func RowKey(row any) string {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	if f := v.Elem().FieldByName("Name"); f.IsValid() && f.Kind() == reflect.String {
		return f.String()
	}
	return ""
}

// AttachedRow is the row a bridge column refers to.
type AttachedRow struct {
	UUID string
	// Owner is the row's external_ids:loom-owned: the app that made it,
	// "" for a row Loom did not make (whose content Loom does not read).
	Owner string
	// Key names the row among its column's (a mirror's name; "" for a
	// one-row column).
	Key string
	// Row is a copy of Loom's row (nil for someone else's).
	Row model.Model `json:"-"`
	// Unread says the bridge refers to the row but the view does not hold
	// it yet: nothing about the column is known.
	Unread bool
}

// refsOf are the rows bridge b refers to through column.
func refsOf(b *vswitch.Bridge, column string) []string {
	if column == "mirrors" {
		return b.Mirrors
	}
	ref, err := bridgeRef(b, column)
	if err != nil || *ref == nil {
		return nil
	}
	return []string{**ref}
}

// portRefsOf are the rows port p refers to through column.
func portRefsOf(p *vswitch.Port, column string) []string {
	if column == "qos" && p.QOS != nil {
		return []string{*p.QOS}
	}
	return nil
}

// bridgeRef is the field of b that a one-row column refers through.
func bridgeRef(b *vswitch.Bridge, column string) (**string, error) {
	switch column {
	case "sflow":
		return &b.Sflow, nil
	case "netflow":
		return &b.Netflow, nil
	case "ipfix":
		return &b.IPFIX, nil
	}
	return nil, fmt.Errorf("bridge column %q refers to no row Loom makes", column)
}

// readAttached fills br.Attached from the bridge row b.
func readAttached(br *Bridge, b *vswitch.Bridge, row func(table, uuid string) model.Model) {
	for column, spec := range attachColumns {
		if !spec.onPort {
			readRefs(&br.Attached, spec, column, refsOf(b, column), row)
		}
	}
}

// readPortAttached fills port.Attached from the port row p.
func readPortAttached(port *Port, p *vswitch.Port, row func(table, uuid string) model.Model) {
	for column, spec := range attachColumns {
		if spec.onPort {
			readRefs(&port.Attached, spec, column, portRefsOf(p, column), row)
		}
	}
}

// readRefs adds the rows uuids of column to into.
func readRefs(into *map[string][]AttachedRow, spec attachSpec, column string, uuids []string, row func(table, uuid string) model.Model) {
	for _, uuid := range uuids {
		if *into == nil {
			*into = map[string][]AttachedRow{}
		}
		m := row(spec.table, uuid)
		if m == nil {
			// Referred to but not (yet) in the cache: a view that lags.
			// Loom must not act on the column until it can read it, or it
			// would add its row again on every pass.
			(*into)[column] = append((*into)[column], AttachedRow{UUID: uuid, Unread: true})
			continue
		}
		a := AttachedRow{UUID: uuid, Owner: externalIDs(m)[ownerKey], Key: RowKey(m)}
		if a.Owner != "" {
			a.Row = model.Clone(m)
		}
		(*into)[column] = append((*into)[column], a)
	}
}

// externalIDs is a vswitch model's external_ids.
func externalIDs(m model.Model) map[string]string {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("ExternalIDs")
	if !f.IsValid() {
		return nil
	}
	ids, _ := f.Interface().(map[string]string)
	return ids
}

// SameRow says whether have holds what want asks for: every column but
// the UUID and external_ids equal, an empty set or map the same as none.
func SameRow(have, want model.Model) bool {
	if have == nil || want == nil || reflect.TypeOf(have) != reflect.TypeOf(want) {
		return false
	}
	return reflect.DeepEqual(content(have), content(want))
}

// content is m's columns without UUID, external_ids and the status
// columns OVS writes (a mirror's statistics), empty sets and maps made
// nil, sets sorted (OVSDB sets have no order).
func content(m model.Model) any {
	v := reflect.ValueOf(model.Clone(m)).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case name == "UUID" || name == "ExternalIDs" || statusColumn(name):
			f.Set(reflect.Zero(f.Type()))
		case (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0:
			f.Set(reflect.Zero(f.Type()))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			sorted := slices.Clone(f.Interface().([]string))
			slices.Sort(sorted)
			f.Set(reflect.ValueOf(sorted))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Int:
			sorted := slices.Clone(f.Interface().([]int))
			slices.Sort(sorted)
			f.Set(reflect.ValueOf(sorted))
		}
	}
	return v.Interface()
}

// statusColumn says whether a model field is a column OVS itself writes
// (counters, state): never compared, never written by Loom.
func statusColumn(field string) bool { return field == "Statistics" || field == "Status" }

// stamped is a copy of want with the given UUID and Loom's stamp.
func stamped(want model.Model, uuid, owner string) (model.Model, error) {
	m := model.Clone(want)
	v := reflect.ValueOf(m).Elem()
	u, ids := v.FieldByName("UUID"), v.FieldByName("ExternalIDs")
	if !u.IsValid() || !ids.IsValid() {
		return nil, fmt.Errorf("%T is not an OVSDB model with external_ids", want)
	}
	u.SetString(uuid)
	ids.Set(reflect.ValueOf(map[string]string{ownerKey: owner}))
	return m, nil
}

// SetAttached makes a row of want's table, stamped loom-owned=owner, and
// points bridge's column at it (port's, when port is set; adds it, for a
// set column), in one transaction. A row a one-row column referred to
// before goes with its last reference, or is deleted when its table is a
// root and it is Loom's.
func (c *Client) SetAttached(ctx context.Context, bridge, port, column string, want model.Model, owner string) error {
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return err
	}
	defer done()
	const named = "loomattached"
	row, err := stamped(want, named, owner)
	if err != nil {
		return err
	}
	ops, err := cl.Create(row)
	if err != nil {
		return err
	}
	ref, err := c.pointAt(ctx, cl, b, port, column, named)
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, fmt.Sprintf("setting %s's %s", target(bridge, port), column), append(ops, ref...))
}

// target names a bridge, or a port of it, in errors and logs.
func target(bridge, port string) string {
	if port != "" {
		return "port " + port + " of bridge " + bridge
	}
	return "bridge " + bridge
}

// pointAt are the operations making column (of b, or of its port) refer
// to uuid: added to a set, or set as the one row.
func (c *Client) pointAt(ctx context.Context, cl client.Client, b *vswitch.Bridge, port, column, uuid string) ([]libovsdb.Operation, error) {
	if port != "" {
		p := &vswitch.Port{Name: port}
		if err := cl.Get(ctx, p); err != nil {
			return nil, fmt.Errorf("hypervisor %s: port %s: %w", c.name, port, err)
		}
		if column != "qos" {
			return nil, fmt.Errorf("port column %q refers to no row Loom makes", column)
		}
		u := uuid
		p.QOS = &u
		return cl.Where(p).Update(p, &p.QOS)
	}
	if column == "mirrors" {
		return cl.Where(b).Mutate(b, model.Mutation{Field: &b.Mirrors, Mutator: libovsdb.MutateOperationInsert, Value: []string{uuid}})
	}
	field, err := bridgeRef(b, column)
	if err != nil {
		return nil, err
	}
	u := uuid
	*field = &u
	return cl.Where(b).Update(b, field)
}

// UpdateAttached rewrites Loom's row uuid (referred to by bridge's
// column) with want's columns, keeping its stamp.
func (c *Client) UpdateAttached(ctx context.Context, bridge, port, column, uuid string, want model.Model, owner string) error {
	cl, ctx, done, err := c.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	row, err := stamped(want, uuid, owner)
	if err != nil {
		return err
	}
	ops, err := cl.Where(row).Update(row, writable(row)...)
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, fmt.Sprintf("updating %s's %s", target(bridge, port), column), ops)
}

// ClearAttached takes Loom's row uuid out of bridge's column (port's,
// when port is set); the row goes with its last reference, or is deleted
// with it when its table is a root. A row someone else set is left alone.
func (c *Client) ClearAttached(ctx context.Context, bridge, port, column, uuid string) error {
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return err
	}
	defer done()
	spec, ok := attachColumns[column]
	if !ok {
		return fmt.Errorf("column %q refers to no row Loom makes", column)
	}
	var p *vswitch.Port
	refs := refsOf(b, column)
	if port != "" {
		p = &vswitch.Port{Name: port}
		if err := cl.Get(ctx, p); err != nil {
			return fmt.Errorf("hypervisor %s: port %s: %w", c.name, port, err)
		}
		refs = portRefsOf(p, column)
	}
	if !slices.Contains(refs, uuid) {
		return nil // already gone
	}
	current := spec.mk()
	if err := getByUUID(ctx, cl, current, uuid); err != nil {
		return fmt.Errorf("hypervisor %s: %s row of %s: %w", c.name, spec.table, target(bridge, port), err)
	}
	if externalIDs(current)[ownerKey] == "" {
		return fmt.Errorf("hypervisor %s: %s's %s row %s is not Loom's; left alone", c.name, target(bridge, port), column, uuid)
	}
	var ops []libovsdb.Operation
	switch {
	case p != nil:
		p.QOS = nil
		ops, err = cl.Where(p).Update(p, &p.QOS)
	case spec.set:
		ops, err = cl.Where(b).Mutate(b, model.Mutation{Field: &b.Mirrors, Mutator: libovsdb.MutateOperationDelete, Value: []string{uuid}})
	default:
		var field **string
		if field, err = bridgeRef(b, column); err == nil {
			*field = nil
			ops, err = cl.Where(b).Update(b, field)
		}
	}
	if err != nil {
		return err
	}
	if spec.root { // a root row outlives its references: it goes with them
		del, err := cl.Where(current).Delete()
		if err != nil {
			return err
		}
		ops = append(ops, del...)
	}
	return c.transact(ctx, cl, fmt.Sprintf("clearing %s's %s", target(bridge, port), column), ops)
}

// getByUUID reads the row uuid into m.
func getByUUID(ctx context.Context, cl client.Client, m model.Model, uuid string) error {
	reflect.ValueOf(m).Elem().FieldByName("UUID").SetString(uuid)
	return cl.Get(ctx, m)
}

// writable are pointers to every column field of m Loom writes (all but
// the UUID and OVS's status columns), for an update of the whole row.
func writable(m model.Model) []any {
	v := reflect.ValueOf(m).Elem()
	var out []any
	for i := 0; i < v.NumField(); i++ {
		if name := v.Type().Field(i).Name; name != "UUID" && !statusColumn(name) {
			out = append(out, v.Field(i).Addr().Interface())
		}
	}
	return out
}
