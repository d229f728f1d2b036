package ovsdb

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// A bridge refers to its sFlow, NetFlow and IPFIX settings through one
// column each, to one row of that table. Apps declare such rows
// (apps.OVSDBDeclarer's sibling BridgeRowDeclarer); this file reads them
// back and writes them, for any of those columns, with the row as a
// vswitch model.

// attachColumns are the Bridge columns that refer to one row Loom may
// make, with that row's model (for reading the cache).
var attachColumns = map[string]func() model.Model{
	"sflow":   func() model.Model { return &vswitch.SFlow{} },
	"netflow": func() model.Model { return &vswitch.NetFlow{} },
	"ipfix":   func() model.Model { return &vswitch.IPFIX{} },
}

// AttachColumn says whether column is a Bridge column Loom can attach a
// row to, and the table of that row.
func AttachColumn(column string) (table string, ok bool) {
	mk, ok := attachColumns[column]
	if !ok {
		return "", false
	}
	switch mk().(type) {
	case *vswitch.SFlow:
		return vswitch.SFlowTable, true
	case *vswitch.NetFlow:
		return vswitch.NetFlowTable, true
	default:
		return vswitch.IPFIXTable, true
	}
}

// Attachable says whether row is a model Loom can attach through column:
// the model of that column's table.
func Attachable(column string, row any) bool {
	mk, ok := attachColumns[column]
	return ok && row != nil && reflect.TypeOf(row) == reflect.TypeOf(mk()) && !reflect.ValueOf(row).IsNil()
}

// AttachedRow is the row a bridge column refers to.
type AttachedRow struct {
	UUID string
	// Owner is the row's external_ids:loom-owned: the app that made it,
	// "" for a row Loom did not make (whose content Loom does not read).
	Owner string
	// Row is a copy of Loom's row (nil for someone else's).
	Row model.Model `json:"-"`
}

// bridgeRef is the field of b that column refers through.
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
	for column := range attachColumns {
		ref, _ := bridgeRef(b, column)
		if *ref == nil {
			continue
		}
		table, _ := AttachColumn(column)
		m := row(table, **ref)
		if m == nil {
			continue
		}
		a := AttachedRow{UUID: **ref, Owner: externalIDs(m)[ownerKey]}
		if a.Owner != "" {
			a.Row = model.Clone(m)
		}
		if br.Attached == nil {
			br.Attached = map[string]AttachedRow{}
		}
		br.Attached[column] = a
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

// content is m's columns without UUID and external_ids, empty sets and
// maps made nil, sets of strings sorted (OVSDB sets have no order).
func content(m model.Model) any {
	v := reflect.ValueOf(model.Clone(m)).Elem()
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case name == "UUID" || name == "ExternalIDs":
			f.Set(reflect.Zero(f.Type()))
		case (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0:
			f.Set(reflect.Zero(f.Type()))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			sorted := slices.Clone(f.Interface().([]string))
			slices.Sort(sorted)
			f.Set(reflect.ValueOf(sorted))
		}
	}
	return v.Interface()
}

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
// points bridge's column at it, in one transaction. A row the column
// referred to before goes with its last reference (these tables are not
// roots).
func (c *Client) SetAttached(ctx context.Context, bridge, column string, want model.Model, owner string) error {
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return err
	}
	defer done()
	row, err := stamped(want, "loomattached", owner)
	if err != nil {
		return err
	}
	ops, err := cl.Create(row)
	if err != nil {
		return err
	}
	ref, err := bridgeRef(b, column)
	if err != nil {
		return err
	}
	named := "loomattached"
	*ref = &named
	upd, err := cl.Where(b).Update(b, ref)
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, fmt.Sprintf("setting bridge %s's %s", bridge, column), append(ops, upd...))
}

// UpdateAttached rewrites Loom's row uuid (referred to by bridge's
// column) with want's columns, keeping its stamp.
func (c *Client) UpdateAttached(ctx context.Context, bridge, column, uuid string, want model.Model, owner string) error {
	cl, ctx, done, err := c.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	row, err := stamped(want, uuid, owner)
	if err != nil {
		return err
	}
	ops, err := cl.Where(row).Update(row, fieldsOf(row)...)
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, fmt.Sprintf("updating bridge %s's %s", bridge, column), ops)
}

// ClearAttached empties bridge's column when it refers to a row Loom
// made (the row goes with it); a row someone else set is left alone.
func (c *Client) ClearAttached(ctx context.Context, bridge, column string) error {
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return err
	}
	defer done()
	ref, err := bridgeRef(b, column)
	if err != nil || *ref == nil {
		return err
	}
	table, _ := AttachColumn(column)
	current := attachColumns[column]()
	if err := getByUUID(ctx, cl, current, **ref); err != nil {
		return fmt.Errorf("hypervisor %s: %s row of bridge %s: %w", c.name, table, bridge, err)
	}
	if externalIDs(current)[ownerKey] == "" {
		return fmt.Errorf("hypervisor %s: bridge %s's %s is not Loom's; left alone", c.name, bridge, column)
	}
	*ref = nil
	upd, err := cl.Where(b).Update(b, ref)
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, fmt.Sprintf("clearing bridge %s's %s", bridge, column), upd)
}

// getByUUID reads the row uuid into m.
func getByUUID(ctx context.Context, cl client.Client, m model.Model, uuid string) error {
	reflect.ValueOf(m).Elem().FieldByName("UUID").SetString(uuid)
	return cl.Get(ctx, m)
}

// fieldsOf are pointers to every column field of m but the UUID, for an
// update that writes the whole row.
func fieldsOf(m model.Model) []any {
	v := reflect.ValueOf(m).Elem()
	var out []any
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Name != "UUID" {
			out = append(out, v.Field(i).Addr().Interface())
		}
	}
	return out
}
