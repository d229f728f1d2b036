package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newWatch(o *options) *cobra.Command {
	var from uint64
	cmd := &cobra.Command{Use: "watch", Short: "Stream topology changes (Ctrl-C to stop)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			ctx = o.withToken(ctx)
			stream, err := pb.NewTopologyServiceClient(conn).WatchTopology(ctx, &pb.WatchTopologyRequest{FromRevision: from})
			if err != nil {
				return err
			}
			for {
				e, err := stream.Recv()
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				if o.output != "table" {
					if err := render(cmd.OutOrStdout(), o.output, e, nil); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d\t%s\t%s\t%s\n", e.Revision, e.Type, kindOf(e), e.Key)
			}
		}}
	cmd.Flags().Uint64Var(&from, "from", 0, "resume after this revision (0: from now)")
	return cmd
}

func kindOf(e *pb.TopologyEvent) string {
	switch e.Object.(type) {
	case *pb.TopologyEvent_Hypervisor:
		return "hypervisor"
	case *pb.TopologyEvent_Switch:
		return "switch"
	case *pb.TopologyEvent_Port:
		return "port"
	case *pb.TopologyEvent_Link:
		return "link"
	case *pb.TopologyEvent_Host:
		return "host"
	}
	return "?"
}
