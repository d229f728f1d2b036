package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newTopology(o *options) *cobra.Command {
	var format string
	cmd := &cobra.Command{Use: "topology", Short: "Print the network as Graphviz (--format dot)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "dot" {
				return fmt.Errorf("--format: %q is not supported (dot)", format)
			}
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			c := pb.NewTopologyServiceClient(conn)
			ctx, cancel := o.ctx()
			defer cancel()
			hv, err := c.ListHypervisors(ctx, &pb.ListHypervisorsRequest{})
			if err != nil {
				return err
			}
			sw, err := c.ListSwitches(ctx, &pb.ListSwitchesRequest{})
			if err != nil {
				return err
			}
			links, err := c.ListLinks(ctx, &pb.ListLinksRequest{})
			if err != nil {
				return err
			}
			hosts, err := c.ListHosts(ctx, &pb.ListHostsRequest{})
			if err != nil {
				return err
			}
			writeDot(cmd.OutOrStdout(), hv.Hypervisors, sw.Switches, links.Links, hosts.Hosts)
			return nil
		}}
	cmd.Flags().StringVar(&format, "format", "dot", "output format (dot)")
	return cmd
}

// writeDot draws hypervisors as clusters around their switches, links as
// edges between switch ports, and hosts hanging off their switch.
func writeDot(w io.Writer, hvs []*pb.Hypervisor, sws []*pb.Switch, links []*pb.Link, hosts []*pb.Host) {
	fmt.Fprintln(w, "graph loom {")
	fmt.Fprintln(w, "  node [shape=box];")
	node := func(d uint64) string { return fmt.Sprintf("\"sw_%016x\"", d) }
	label := func(s *pb.Switch) string {
		if s.Bridge != "" {
			return fmt.Sprintf("%s\\n%s", s.Bridge, dpid(s.Dpid))
		}
		return dpid(s.Dpid)
	}
	for i, h := range hvs {
		fmt.Fprintf(w, "  subgraph cluster_%d {\n    label=%q;\n", i, h.Name)
		for _, s := range sws {
			if s.Hypervisor == h.Name {
				fmt.Fprintf(w, "    %s [label=\"%s\"];\n", node(s.Dpid), label(s))
			}
		}
		fmt.Fprintln(w, "  }")
	}
	for _, s := range sws {
		if s.Hypervisor == "" {
			fmt.Fprintf(w, "  %s [label=\"%s\"];\n", node(s.Dpid), label(s))
		}
	}
	for _, l := range links {
		fmt.Fprintf(w, "  %s -- %s [taillabel=\"%d\", headlabel=\"%d\"];\n", node(l.A.Dpid), node(l.B.Dpid), l.A.Port, l.B.Port)
	}
	for _, h := range hosts {
		id := "host_" + strings.ReplaceAll(h.Mac, ":", "")
		fmt.Fprintf(w, "  %q [shape=ellipse, label=\"%s\\n%s\"];\n  %s -- %q [taillabel=\"%d\"];\n",
			id, h.Mac, strings.Join(h.Ips, ","), node(h.Dpid), id, h.Port)
	}
	fmt.Fprintln(w, "}")
}
