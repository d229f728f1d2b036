package ovsdb

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// PortSpec is a port (with its one interface) Loom makes for an app.
type PortSpec struct {
	Name    string
	Type    string            // interface type: vxlan, gre, internal, ...
	Options map[string]string // interface options
}

// AddPort adds spec to bridge, Port and Interface stamped
// external_ids:loom-owned=owner (the app that wants it), so Loom knows
// the port as its own and never confuses it with an operator's. OVSDB
// refuses a duplicate port name, so a Loom killed mid-transaction leaves
// either the whole port or nothing, and a second creation is impossible.
func (c *Client) AddPort(ctx context.Context, bridge string, spec PortSpec, owner string) error {
	if owner == "" {
		return fmt.Errorf("hypervisor %s: port %s: no owner to stamp it with", c.name, spec.Name)
	}
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return err
	}
	defer done()
	owned := map[string]string{ownerKey: owner}
	iface := &vswitch.Interface{UUID: "loomport_iface", Name: spec.Name, Type: spec.Type,
		Options: maps.Clone(spec.Options), ExternalIDs: owned}
	port := &vswitch.Port{UUID: "loomport_port", Name: spec.Name, Interfaces: []string{iface.UUID}, ExternalIDs: owned}
	ops, err := cl.Create(iface, port)
	if err != nil {
		return err
	}
	mut, err := cl.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: libovsdb.MutateOperationInsert, Value: []string{port.UUID}})
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, "adding port "+spec.Name+" to bridge "+bridge, append(ops, mut...))
}

// RemovePort removes a port Loom owns from bridge. A port without Loom's
// stamp is never removed: the error says so.
func (c *Client) RemovePort(ctx context.Context, bridge, name string) error {
	cl, ctx, done, err := c.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	p := &vswitch.Port{Name: name}
	if err := cl.Get(ctx, p); err != nil {
		return fmt.Errorf("hypervisor %s: port %s: %w", c.name, name, err)
	}
	if p.ExternalIDs[ownerKey] == "" {
		return fmt.Errorf("hypervisor %s: port %s is not Loom's; left alone", c.name, name)
	}
	b := &vswitch.Bridge{Name: bridge}
	if err := cl.Get(ctx, b); err != nil {
		return fmt.Errorf("hypervisor %s: bridge %s: %w", c.name, bridge, ErrNoBridge)
	}
	// Port and Interface rows go with their last reference.
	ops, err := cl.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: libovsdb.MutateOperationDelete, Value: []string{p.UUID}})
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, "removing port "+name+" from bridge "+bridge, ops)
}

func (c *Client) transact(ctx context.Context, cl client.Client, what string, ops []libovsdb.Operation) error {
	res, err := cl.Transact(ctx, ops...)
	if err != nil {
		return fmt.Errorf("hypervisor %s: %s: %w", c.name, what, opError(ctx, err))
	}
	if _, err := libovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("hypervisor %s: %s: %w%s", c.name, what, err, serverSays(res))
	}
	return nil
}

// serverSays is what the server gave as the reason a transaction failed
// (its error and details), for the log line: "1 ovsdb operations failed"
// alone tells an operator nothing.
func serverSays(res []libovsdb.OperationResult) string {
	var parts []string
	for _, r := range res {
		if r.Error == "" {
			continue
		}
		part := r.Error
		if r.Details != "" {
			part += ": " + r.Details
		}
		parts = append(parts, part)
		if len(parts) == 3 {
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (the server says: " + strings.Join(parts, "; ") + ")"
}
