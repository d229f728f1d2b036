package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newForget(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "forget", Short: "Make Loom forget something that is gone"}
	var all bool
	sw := &cobra.Command{Use: "switch SWITCH",
		Short: "Forget a disconnected switch: its topology entry and the flows apps declared for it",
		Long: "SWITCH is a datapath id (0xc1 or 00000000000000c1), a bridge name, or hypervisor/bridge.\n" +
			"Flows API clients declared for the switch stay unless --all is given.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := o.ctx()
			defer cancel()
			id, err := resolveSwitch(ctx, conn, args[0])
			if err != nil {
				return err
			}
			r, err := pb.NewControllerServiceClient(conn).ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: id, All: all})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "switch %s forgotten (%d desired flows dropped)\n", dpid(id), r.GetFlows())
			return nil
		}}
	sw.Flags().BoolVar(&all, "all", false, "also drop the flows API clients declared for the switch")
	cmd.AddCommand(sw)
	return cmd
}

// resolveSwitch turns a datapath id, bridge name or hypervisor/bridge
// into a datapath id, asking loomd for names.
func resolveSwitch(ctx context.Context, conn *grpc.ClientConn, arg string) (uint64, error) {
	if id, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(arg), "0x"), 16, 64); err == nil &&
		(strings.HasPrefix(strings.ToLower(arg), "0x") || len(arg) == 16) {
		return id, nil
	}
	r, err := pb.NewTopologyServiceClient(conn).ListSwitches(ctx, &pb.ListSwitchesRequest{})
	if err != nil {
		return 0, err
	}
	var found []*pb.Switch
	for _, s := range r.GetSwitches() {
		if s.GetBridge() == arg || s.GetHypervisor()+"/"+s.GetBridge() == arg {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("switch %q: no switch has that datapath id, bridge or hypervisor/bridge", arg)
	case 1:
		return found[0].GetDpid(), nil
	}
	var names []string
	for _, s := range found {
		names = append(names, s.GetHypervisor()+"/"+s.GetBridge()+" ("+dpid(s.GetDpid())+")")
	}
	return 0, fmt.Errorf("switch %q is ambiguous: %s; name it as hypervisor/bridge or by datapath id", arg, strings.Join(names, ", "))
}
