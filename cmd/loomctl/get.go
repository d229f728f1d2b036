package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newGet(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "get", Short: "List switches, ports, links, hosts, hypervisors, tunnels or cluster instances; show a VM",
		RunE: func(_ *cobra.Command, args []string) error {
			what := ""
			if len(args) > 0 {
				what = fmt.Sprintf("%q ", args[0])
			}
			return fmt.Errorf("get %swhat? one of: switches, ports, links, hosts, hypervisors, tunnels, instances, vm", what)
		}}
	var portsOf string
	list := func(use, short string, run func(cmd *cobra.Command, c pb.TopologyServiceClient) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			return run(cmd, pb.NewTopologyServiceClient(conn))
		}}
	}
	cmd.AddCommand(
		list("switches", "OpenFlow switches (OVS bridges)", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := c.ListSwitches(ctx, &pb.ListSwitchesRequest{})
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), o.output, r, func() *table {
				// MASTER (the cluster instance mastering each switch) only
				// in a cluster: a standalone loomd's table is as it was.
				clustered := slices.ContainsFunc(r.Switches, func(s *pb.Switch) bool { return s.Master != "" })
				t := &table{header: []string{"DPID", "BRIDGE", "HYPERVISOR", "CONNECTED", "REMOTE"}}
				if clustered {
					t.header = append(t.header, "MASTER")
				}
				for _, s := range r.Switches {
					row := []any{dpid(s.Dpid), s.Bridge, s.Hypervisor, yesNo(s.Connected), s.Remote}
					if clustered {
						row = append(row, s.Master)
					}
					t.add(row...)
				}
				return t
			})
		}),
		func() *cobra.Command {
			c := list("ports", "switch ports, with their network and the VM behind each", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
				ctx, cancel := o.ctx()
				defer cancel()
				var of uint64
				if portsOf != "" {
					var err error
					if of, err = resolveSwitch(ctx, c, portsOf); err != nil {
						return fmt.Errorf("--switch: %w", err)
					}
				}
				r, err := c.ListPorts(ctx, &pb.ListPortsRequest{Dpid: of})
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), o.output, r, func() *table {
					t := &table{header: []string{"SWITCH", "PORT", "NAME", "KIND", "UP", "MAC", "NETWORK", "VLAN", "VM", "VM-MAC"}}
					for _, p := range r.Ports {
						vm, vmMAC := "", ""
						if p.Vm != nil {
							// libvirt's iface-id names the interface; the uuid when there is none
							vm, vmMAC = p.Vm.IfaceId, p.Vm.Mac
							if vm == "" {
								vm = p.Vm.Uuid
							}
						}
						t.add(dpid(p.Dpid), portNo(p.No), p.Name, p.Kind, yesNo(p.Up), p.Mac, p.Network, portVLANs(p), vm, vmMAC)
					}
					return t
				})
			})
			c.Flags().StringVar(&portsOf, "switch", "", "only this switch's ports: datapath id (0xc1), bridge name or hypervisor/bridge")
			return c
		}(),
		list("links", "links between switches", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := c.ListLinks(ctx, &pb.ListLinksRequest{})
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), o.output, r, func() *table {
				t := &table{header: []string{"A", "PORT-A", "B", "PORT-B", "KIND"}}
				for _, l := range r.Links {
					t.add(fmt.Sprintf("%s:%d", dpid(l.A.Dpid), l.A.Port), l.A.Name, fmt.Sprintf("%s:%d", dpid(l.B.Dpid), l.B.Port), l.B.Name, l.Kind)
				}
				return t
			})
		}),
		list("hosts", "hosts (MACs) seen, with their IPs and place", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := c.ListHosts(ctx, &pb.ListHostsRequest{})
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), o.output, r, func() *table {
				t := &table{header: []string{"MAC", "IPS", "SWITCH", "PORT", "NETWORK", "VLAN"}}
				for _, h := range r.Hosts {
					vlan := "-"
					if h.Vlan != 0 {
						vlan = fmt.Sprint(h.Vlan)
					}
					t.add(h.Mac, strings.Join(h.Ips, ","), dpid(h.Dpid), h.Port, h.Network, vlan)
				}
				return t
			})
		}),
		list("tunnels", "tunnel ports and their far ends", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := c.ListTunnels(ctx, &pb.ListTunnelsRequest{})
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), o.output, r, func() *table {
				t := &table{header: []string{"HYPERVISOR", "SWITCH", "PORT", "NAME", "TYPE", "REMOTE-IP", "KEY", "UP"}}
				for _, tu := range r.Tunnels {
					t.add(tu.Hypervisor, dpid(tu.Dpid), tu.Port, tu.Name, tu.Type, tu.RemoteIp, tu.Key, yesNo(tu.Up))
				}
				if len(r.Peers) > 0 {
					t.then = &table{header: []string{"FROM", "TO", "REMOTE-IP", "STATE", "LAST-PROBE", "WHY"}}
					for _, p := range r.Peers {
						state, last := "down", "-"
						if p.Up {
							state = "up"
						}
						if p.LastProbeUnixNano != 0 {
							last = time.Unix(0, p.LastProbeUnixNano).UTC().Format(time.RFC3339)
						}
						t.then.add(p.From, p.To, p.RemoteIp, state, last, p.Reason)
					}
				}
				return t
			})
		}),
		list("hypervisors", "hypervisors and their OVSDB connection", func(cmd *cobra.Command, c pb.TopologyServiceClient) error {
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := c.ListHypervisors(ctx, &pb.ListHypervisorsRequest{})
			if err != nil {
				return err
			}
			return render(cmd.OutOrStdout(), o.output, r, func() *table {
				t := &table{header: []string{"NAME", "OVSDB", "TUNNEL-IP", "CONNECTED", "SYSTEM-ID", "ERROR"}}
				for _, h := range r.Hypervisors {
					t.add(h.Name, h.Ovsdb, h.TunnelIp, yesNo(h.Connected), h.SystemId, h.Error)
				}
				return t
			})
		}),
		newGetInstances(o),
		newGetVM(o),
	)
	return cmd
}

// newGetVM is `get vm NAME|UUID|MAC`.
func newGetVM(o *options) *cobra.Command {
	return &cobra.Command{Use: "vm IFACE-ID|VM-UUID|MAC", Short: "a VM's ports: where, network, IPs, ACL rules and flows",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.call(func(ctx context.Context, conn *grpc.ClientConn) error {
				r, err := pb.NewTopologyServiceClient(conn).GetVM(ctx, &pb.GetVMRequest{Vm: args[0]})
				if err != nil {
					return err
				}
				return renderVM(cmd, o, r)
			})
		}}
}

// renderVM prints GetVM's answer.
func renderVM(cmd *cobra.Command, o *options, r *pb.GetVMResponse) error {
	return render(cmd.OutOrStdout(), o.output, r, func() *table {
		t := &table{header: []string{"VM", "MAC", "HYPERVISOR", "BRIDGE", "PORT", "NETWORK", "VLAN", "IPS", "ACL-RULES", "FLOWS"}}
		for _, v := range r.Ports {
			p := v.Port
			name := p.Vm.IfaceId
			if name == "" {
				name = p.Vm.Uuid
			}
			t.add(name, p.Vm.Mac, v.Hypervisor, v.Bridge, fmt.Sprintf("%s (%d)", p.Name, p.No), p.Network, portVLANs(p),
				strings.Join(v.Ips, ","), strings.Join(v.AclRules, ","), v.Flows)
		}
		return t
	})
}

// portVLANs is a port's VLANs for a table: the untagged one, then the
// tagged ones with a t ("10,20t,30t"); "-" for none.
func portVLANs(p *pb.Port) string {
	var parts []string
	if p.Vlan != 0 {
		parts = append(parts, fmt.Sprint(p.Vlan))
	}
	for _, v := range p.TaggedVlans {
		parts = append(parts, fmt.Sprintf("%dt", v))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}
