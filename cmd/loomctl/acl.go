package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newACL(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "acl", Aliases: []string{"acls"}, Short: "ACL rules: list (with counters), add, delete",
		Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("acl what? one of: list, add, del")
		}}
	var (
		r                  pb.ACLRule
		icmpType, icmpCode uint32
	)
	add := &cobra.Command{
		Use: "add NAME (--network N | --vlan N) --action allow|deny [--in-port P] [--eth-type T] [--src CIDR] [--dst CIDR] " +
			"[--proto P] [--src-port P] [--dst-port P] [--icmp-type N] [--icmp-code N]",
		Short: "Append an ACL rule through the API (it applies after every rule declared)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r.Name = args[0]
			if cmd.Flags().Changed("icmp-type") {
				r.IcmpType = &icmpType
			}
			if cmd.Flags().Changed("icmp-code") {
				r.IcmpCode = &icmpCode
			}
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				resp, err := c.AddACL(ctx, &pb.AddACLRequest{Rule: &r})
				if err != nil {
					return err
				}
				return done(cmd, o, resp, "ACL rule %q added", r.Name)
			})
		}}
	f := add.Flags()
	f.StringVar(&r.Network, "network", "", "the network the rule applies to")
	f.Uint32Var(&r.Vlan, "vlan", 0, "the rule's network by VLAN id")
	f.StringVar(&r.Action, "action", "", "allow or deny")
	f.StringVar(&r.InPort, "in-port", "", "only frames entering ports of this name or glob")
	f.StringVar(&r.EthType, "eth-type", "", "ipv4, ipv6, arp or a number like 0x0800")
	f.StringVar(&r.Src, "src", "", "source IP address or CIDR prefix")
	f.StringVar(&r.Dst, "dst", "", "destination IP address or CIDR prefix")
	f.StringVar(&r.Proto, "proto", "", "tcp, udp, sctp, icmp, icmpv6 or a protocol number")
	f.StringVar(&r.SrcPort, "src-port", "", "source L4 port (8080) or range (1000-2000)")
	f.StringVar(&r.DstPort, "dst-port", "", "destination L4 port (8080) or range (1000-2000)")
	f.Uint32Var(&icmpType, "icmp-type", 0, "ICMP type")
	f.Uint32Var(&icmpCode, "icmp-code", 0, "ICMP code")
	cobra.CheckErr(add.MarkFlagRequired("action")) // fails only for a flag not defined above
	add.MarkFlagsOneRequired("network", "vlan")
	add.MarkFlagsMutuallyExclusive("network", "vlan")

	del := &cobra.Command{Use: "del NAME", Aliases: []string{"delete", "rm"}, Short: "Delete an ACL rule the API declared", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				resp, err := c.DeleteACL(ctx, &pb.DeleteACLRequest{Name: args[0]})
				if err != nil {
					return err
				}
				return done(cmd, o, resp, "ACL rule %q deleted", args[0])
			})
		}}

	list := &cobra.Command{Use: "list", Aliases: []string{"ls"}, Short: "ACL rules in the order they apply, with their counters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.networkCall(func(ctx context.Context, c pb.NetworkServiceClient) error {
				resp, err := c.ListACLs(ctx, &pb.ListACLsRequest{})
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), o.output, resp, func() *table {
					t := &table{header: []string{"NAME", "NETWORK", "ACTION", "MATCH", "PACKETS", "BYTES", "SOURCE"}}
					for _, r := range resp.Rules {
						net := r.Network
						if net == "" {
							net = fmt.Sprintf("vlan %d", r.Vlan)
						}
						t.add(r.Name, net, r.Action, matchSummary(r), r.Packets, r.Bytes, r.Source)
					}
					return t
				})
			})
		}}
	cmd.AddCommand(list, add, del)
	return cmd
}

// matchSummary is a rule's match in one compact cell: the Ethernet type
// and protocol bare, then the other fields as key=value by key ("tcp
// dst_port=8080 src=10.0.0.0/24"); "any" when the rule matches every
// frame of its network.
func matchSummary(r *pb.ACLRule) string {
	var bare []string
	if r.EthType != "" {
		bare = append(bare, r.EthType)
	}
	if r.Proto != "" {
		bare = append(bare, r.Proto)
	}
	var kv []string
	for k, v := range map[string]string{"in_port": r.InPort, "src": r.Src, "dst": r.Dst, "src_port": r.SrcPort, "dst_port": r.DstPort} {
		if v != "" {
			kv = append(kv, k+"="+v)
		}
	}
	if r.IcmpType != nil {
		kv = append(kv, fmt.Sprintf("icmp_type=%d", *r.IcmpType))
	}
	if r.IcmpCode != nil {
		kv = append(kv, fmt.Sprintf("icmp_code=%d", *r.IcmpCode))
	}
	sort.Strings(kv)
	if out := strings.Join(append(bare, kv...), " "); out != "" {
		return out
	}
	return "any"
}
