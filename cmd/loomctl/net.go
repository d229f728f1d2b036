package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// networkCall dials loomd and runs fn with a NetworkService client and a
// request context.
func (o *options) networkCall(fn func(ctx context.Context, c pb.NetworkServiceClient) error) error {
	return o.call(func(ctx context.Context, conn *grpc.ClientConn) error {
		return fn(ctx, pb.NewNetworkServiceClient(conn))
	})
}

// done reports a change: a line in table output, the response otherwise.
func done(cmd *cobra.Command, o *options, resp proto.Message, format string, args ...any) error {
	if o.output != "table" {
		return render(cmd.OutOrStdout(), o.output, resp, nil)
	}
	_, err := fmt.Fprintf(cmd.OutOrStdout(), format+"\n", args...)
	return err
}

func orDash(n uint32) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func newNet(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "net", Aliases: []string{"network", "networks"}, Short: "Virtual networks: list, add, delete",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("net what? one of: list, add, del")
		}}
	var n pb.Network
	add := &cobra.Command{Use: "add NAME --vlan N [--vni N] [--port P]... [--iface-id X]... [--vm-id X]... [--default allow|deny] [--stateful]",
		Short: "Declare a network through the API", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n.Name = args[0]
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.AddNetwork(ctx, &pb.AddNetworkRequest{Network: &n})
				if err != nil {
					return err
				}
				return done(cmd, o, r, "network %q added", n.Name)
			})
		}}
	f := add.Flags()
	f.Uint32Var(&n.Vlan, "vlan", 0, "the network's VLAN id (1-4094)")
	f.Uint32Var(&n.Vni, "vni", 0, "the network's VNI across tunnels")
	f.StringArrayVar(&n.Ports, "port", nil, "a member port name or glob (repeatable)")
	f.StringArrayVar(&n.IfaceIds, "iface-id", nil, "a member port by libvirt iface-id (repeatable)")
	f.StringArrayVar(&n.VmIds, "vm-id", nil, "every port of a VM by libvirt vm-uuid (repeatable)")
	f.StringVar(&n.DefaultPolicy, "default", "", "policy for traffic no ACL rule matches: allow (default) or deny")
	f.BoolVar(&n.Stateful, "stateful", false, "track connections: allowed connections' replies pass")
	cobra.CheckErr(add.MarkFlagRequired("vlan")) // fails only for a flag not defined above

	del := &cobra.Command{Use: "del NAME", Aliases: []string{"delete", "rm"}, Short: "Delete a network the API declared", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.DeleteNetwork(ctx, &pb.DeleteNetworkRequest{Name: args[0]})
				if err != nil {
					return err
				}
				return done(cmd, o, r, "network %q deleted", args[0])
			})
		}}

	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "Networks, the config file's then the API's", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.ListNetworks(ctx, &pb.ListNetworksRequest{})
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), o.output, r, func() *table {
					t := &table{header: []string{"NAME", "VLAN", "VNI", "PORTS", "IFACE-IDS", "VMS", "DEFAULT", "STATEFUL", "SOURCE"}}
					for _, n := range r.Networks {
						def := n.DefaultPolicy
						if def == "" {
							def = "allow"
						}
						t.add(n.Name, n.Vlan, orDash(n.Vni), strings.Join(n.Ports, ","), strings.Join(n.IfaceIds, ","),
							strings.Join(n.VmIds, ","), def, yesNo(n.Stateful), n.Source)
					}
					return t
				})
			})
		}}
	cmd.AddCommand(list, add, del)
	return cmd
}

func newTrunk(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "trunk", Aliases: []string{"trunks"}, Short: "Trunk ports: list, add, delete",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("trunk what? one of: list, add, del")
		}}
	var (
		vlans  []uint
		native uint32
	)
	add := &cobra.Command{Use: "add PORT --vlans 10,20 [--native N]", Short: "Declare a trunk port (name or glob) through the API",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t := &pb.Trunk{Port: args[0], Native: native}
			for _, v := range vlans {
				t.Vlans = append(t.Vlans, uint32(v))
			}
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.AddTrunk(ctx, &pb.AddTrunkRequest{Trunk: t})
				if err != nil {
					return err
				}
				return done(cmd, o, r, "trunk %q added", t.Port)
			})
		}}
	add.Flags().UintSliceVar(&vlans, "vlans", nil, "the VLANs the trunk carries tagged (e.g. 10,20)")
	add.Flags().Uint32Var(&native, "native", 0, "the VLAN untagged frames on the trunk join")

	del := &cobra.Command{Use: "del PORT", Aliases: []string{"delete", "rm"}, Short: "Delete a trunk the API declared", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.DeleteTrunk(ctx, &pb.DeleteTrunkRequest{Port: args[0]})
				if err != nil {
					return err
				}
				return done(cmd, o, r, "trunk %q deleted", args[0])
			})
		}}

	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "Trunk ports, the config file's then the API's", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				r, err := c.ListTrunks(ctx, &pb.ListTrunksRequest{})
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), o.output, r, func() *table {
					t := &table{header: []string{"PORT", "VLANS", "NATIVE", "SOURCE"}}
					for _, tr := range r.Trunks {
						var vs []string
						for _, v := range tr.Vlans {
							vs = append(vs, fmt.Sprint(v))
						}
						t.add(tr.Port, strings.Join(vs, ","), orDash(tr.Native), tr.Source)
					}
					return t
				})
			})
		}}
	cmd.AddCommand(list, add, del)
	return cmd
}
