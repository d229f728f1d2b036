package main

import (
	"fmt"

	"github.com/spf13/cobra"

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
			id, err := resolveSwitch(ctx, pb.NewTopologyServiceClient(conn), args[0])
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
