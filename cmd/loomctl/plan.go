package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

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
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := pb.NewControllerServiceClient(conn).Plan(ctx, &pb.PlanRequest{Config: data})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return render(cmd.OutOrStdout(), o.output, r, nil)
			}
			w := cmd.OutOrStdout()
			changes := 0
			for _, s := range r.Switches {
				if len(s.Add)+len(s.Change)+len(s.Remove) == 0 {
					continue
				}
				if changes > 0 {
					fmt.Fprintln(w)
				}
				changes++
				fmt.Fprintf(w, "switch %s: +%d ~%d -%d\n", dpid(s.Dpid), len(s.Add), len(s.Change), len(s.Remove))
				for _, f := range s.Add {
					fmt.Fprintln(w, "+ "+f)
				}
				for _, f := range s.Change {
					fmt.Fprintln(w, "~ "+f)
				}
				for _, f := range s.Remove {
					fmt.Fprintln(w, "- "+f)
				}
			}
			if changes == 0 {
				fmt.Fprintln(w, "no changes")
			}
			return nil
		}}
}

func newReload(o *options) *cobra.Command {
	return &cobra.Command{Use: "reload", Short: "Make loomd re-read its config file and apply its networks, trunks and ACLs",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := pb.NewControllerServiceClient(conn).Reload(ctx, &pb.ReloadRequest{})
			if err != nil {
				return err
			}
			return done(cmd, o, r, "config reloaded")
		}}
}
