package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newFlows(o *options) *cobra.Command {
	var (
		swArg     string
		installed bool
		diff      bool
		app       string
		errs      bool
		netArg    string
		portArg   string
	)
	cmd := &cobra.Command{Use: "flows [--switch SWITCH] [--installed | --diff | --errors] [--network N] [--port P] [--app A]",
		Short: "Desired or installed flows (every switch, or one), a switch's pending difference, or its recent errors", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if swArg == "" && (diff || errs) {
				return fmt.Errorf("--switch: required with --diff and --errors (a datapath id like 0xc1, a bridge name, or hypervisor/bridge)")
			}
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			c := pb.NewFlowServiceClient(conn)
			ctx, cancel := o.ctx()
			defer cancel()
			var sw uint64
			if swArg != "" {
				if sw, err = resolveSwitch(ctx, pb.NewTopologyServiceClient(conn), swArg); err != nil {
					return fmt.Errorf("--switch: %w", err)
				}
			}
			w := cmd.OutOrStdout()
			switch {
			case errs:
				r, err := c.ListSwitchErrors(ctx, &pb.ListSwitchErrorsRequest{Dpid: sw})
				if err != nil {
					return err
				}
				return render(w, o.output, r, func() *table {
					t := &table{header: []string{"TIME", "ERROR", "APP", "KEY", "FLOW"}}
					for _, e := range r.Errors {
						t.add(time.Unix(e.TimeUnix, 0).UTC().Format(time.RFC3339), e.Error, e.App, e.Key, e.Flow)
					}
					return t
				})
			case diff:
				r, err := c.DiffFlows(ctx, &pb.DiffFlowsRequest{Dpid: sw})
				if err != nil {
					return err
				}
				return render(w, o.output, r, func() *table {
					t := &table{header: []string{"COMMAND", "APP", "KEY", "FLOW"}}
					for _, ch := range r.Changes {
						t.add(ch.Command, ch.Flow.App, ch.Flow.Key, ch.Flow.Text)
					}
					return t
				})
			}
			r, err := c.ListFlows(ctx, &pb.ListFlowsRequest{Dpid: sw, Installed: installed, App: app, Network: netArg, Port: portArg})
			if err != nil {
				return err
			}
			return render(w, o.output, r, func() *table {
				// One switch asked for: its flows. Every switch: a SWITCH column first.
				lead := func(f *pb.Flow) []any {
					if sw != 0 {
						return nil
					}
					return []any{dpid(f.Dpid)}
				}
				head := func(cols ...string) []string {
					if sw != 0 {
						return cols
					}
					return append([]string{"SWITCH"}, cols...)
				}
				if installed {
					t := &table{header: head("COOKIE", "APP", "PACKETS", "AGE", "FLOW")}
					for _, f := range r.Flows {
						t.add(append(lead(f), fmt.Sprintf("0x%016x", f.Cookie), f.App, f.Packets, fmt.Sprintf("%ds", f.AgeSeconds), f.Text)...)
					}
					return t
				}
				t := &table{header: head("APP", "KEY", "COOKIE", "FLOW")}
				for _, f := range r.Flows {
					t.add(append(lead(f), f.App, f.Key, fmt.Sprintf("0x%016x", f.Cookie), f.Text)...)
				}
				return t
			})
		}}
	f := cmd.Flags()
	f.StringVar(&swArg, "switch", "", "only this switch: datapath id (0xc1), bridge name (vswitch02) or hypervisor/bridge (kvm01/vswitch02); default every switch")
	f.StringVar(&netArg, "network", "", "only flows matching this network's VLAN")
	f.StringVar(&portArg, "port", "", "only flows matching in_port of the port of this name")
	f.BoolVar(&installed, "installed", false, "what the switch holds now, with counters")
	f.BoolVar(&diff, "diff", false, "what the next reconcile would change")
	f.BoolVar(&errs, "errors", false, "the switch's recent errors, with the app that caused each")
	f.StringVar(&app, "app", "", "only this app's desired flows")
	cmd.MarkFlagsMutuallyExclusive("installed", "diff", "errors")
	return cmd
}
