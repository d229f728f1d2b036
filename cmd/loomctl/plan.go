package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/loomsdn/loom/internal/plantext"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newPlan(o *options) *cobra.Command {
	return &cobra.Command{Use: "plan FILE",
		Short: "What a config file's networks, trunks and ACLs would change on each switch, without applying it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			return o.call(func(ctx context.Context, conn *grpc.ClientConn) error {
				r, err := pb.NewControllerServiceClient(conn).Plan(ctx, &pb.PlanRequest{Config: data})
				if err != nil {
					return err
				}
				if o.output != "table" {
					return render(cmd.OutOrStdout(), o.output, r, nil)
				}
				plantext.Write(cmd.OutOrStdout(), r)
				return nil
			})
		}}
}

func newReload(o *options) *cobra.Command {
	return &cobra.Command{Use: "reload", Short: "Make loomd re-read its config file and apply its networks, trunks and ACLs",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.call(func(ctx context.Context, conn *grpc.ClientConn) error {
				r, err := pb.NewControllerServiceClient(conn).Reload(ctx, &pb.ReloadRequest{})
				if err != nil {
					return err
				}
				return done(cmd, o, r, "config reloaded")
			})
		}}
}
