package ovsdb

import (
	"context"
	"fmt"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// OwnedTunnel is the loom-owned stamp on the tunnel ports Loom creates.
const OwnedTunnel = "tunnel"

// TunnelPortName is the name of Loom's flow-based tunnel port of a type
// ("loom-vxlan", "loom-gre"). One fixed name per bridge and type makes a
// second creation impossible: OVSDB refuses a duplicate port name, so a
// Loom killed mid-transaction leaves either the whole port or nothing.
func TunnelPortName(typ string) string { return "loom-" + typ }

// AddTunnelPort adds Loom's flow-based tunnel port of type typ to bridge:
// remote_ip=flow and key=flow, so flows choose the peer and the VNI, and a
// mesh of any size needs this one port per bridge. Port and Interface
// carry external_ids:loom-owned=tunnel.
func (c *Client) AddTunnelPort(ctx context.Context, bridge, typ string) error {
	cl, ctx, done, err := c.op(ctx)
	if err != nil {
		return err
	}
	defer done()
	b := &vswitch.Bridge{Name: bridge}
	if err := cl.Get(ctx, b); err != nil {
		return fmt.Errorf("hypervisor %s: bridge %s: %w", c.name, bridge, ErrNoBridge)
	}
	name := TunnelPortName(typ)
	owned := map[string]string{ownerKey: OwnedTunnel}
	iface := &vswitch.Interface{UUID: "loomtunnel_iface", Name: name, Type: typ,
		Options: map[string]string{"remote_ip": "flow", "key": "flow"}, ExternalIDs: owned}
	port := &vswitch.Port{UUID: "loomtunnel_port", Name: name, Interfaces: []string{iface.UUID}, ExternalIDs: owned}
	ops, err := cl.Create(iface, port)
	if err != nil {
		return err
	}
	mut, err := cl.Where(b).Mutate(b, model.Mutation{Field: &b.Ports, Mutator: libovsdb.MutateOperationInsert, Value: []string{port.UUID}})
	if err != nil {
		return err
	}
	return c.transact(ctx, cl, "adding tunnel port "+name+" to bridge "+bridge, append(ops, mut...))
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
		return fmt.Errorf("hypervisor %s: %s: %w", c.name, what, err)
	}
	return nil
}
