package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newStatus(o *options) *cobra.Command {
	return &cobra.Command{Use: "status", Short: "Controller version, uptime, health, switches and counters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := o.ctx()
			defer cancel()
			r, err := pb.NewControllerServiceClient(conn).GetStatus(ctx, &pb.GetStatusRequest{})
			if err != nil {
				return err
			}
			if o.output != "table" {
				return render(cmd.OutOrStdout(), o.output, r, nil)
			}
			w := cmd.OutOrStdout()
			c := r.GetCounters()
			fmt.Fprintf(w, "version:  %s\nuptime:   %s\nhealthy:  %s\n", r.Version, time.Duration(r.UptimeSeconds)*time.Second, yesNo(r.Healthy))
			for _, c := range r.GetConditions() {
				fmt.Fprintf(w, "  %s %s: %s\n", c.GetKind(), c.GetSubject(), c.GetMessage())
			}
			fmt.Fprintf(w, "counters: packet_ins=%d dropped=%d flow_mods=%d packet_outs=%d switch_errors=%d drift_repairs=%d conflicts=%d\n\n",
				c.GetPacketIns(), c.GetPacketInsDropped(), c.GetFlowMods(), c.GetPacketOuts(), c.GetSwitchErrors(), c.GetDriftRepairs(), c.GetConflicts())
			t := &table{header: []string{"SWITCH", "CONNECTED", "REMOTE"}}
			for _, s := range r.Switches {
				t.add(dpid(s.Dpid), yesNo(s.Connected), s.Remote)
			}
			return t.write(w)
		}}
}
