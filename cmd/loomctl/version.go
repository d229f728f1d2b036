package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// version is set at build time (make build: -ldflags "-X main.version=$(git describe)").
var version = "dev"

// newVersion is `loomctl version`: this client's version, and the
// server's when it answers (an unreachable server is said, not fatal).
func newVersion(o *options) *cobra.Command {
	return &cobra.Command{Use: "version", Short: "loomctl's version and the server's", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "client: %s (%s)\n", version, runtime.Version())
			conn, err := o.dial()
			if err != nil {
				fmt.Fprintf(w, "server: not reached: %s\n", oneLine(err))
				return nil
			}
			defer conn.Close()
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := pb.NewControllerServiceClient(conn).GetStatus(ctx, &pb.GetStatusRequest{})
			if err != nil {
				fmt.Fprintf(w, "server: not reached: %s\n", oneLine(err))
				return nil
			}
			fmt.Fprintf(w, "server: %s\n", r.GetVersion())
			return nil
		}}
}
