package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func newEvents(o *options) *cobra.Command {
	var (
		follow bool
		since  time.Duration
		from   uint64
	)
	cmd := &cobra.Command{Use: "events [--follow] [--since DURATION] [--from SEQ]",
		Short: "What happened: switches, policies applied, drift repaired, switch errors, tunnel paths, VM moves, API changes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := o.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if !follow {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, o.timeout)
				defer cancel()
			}
			ctx = o.withToken(ctx)
			stream, err := pb.NewControllerServiceClient(conn).WatchEvents(ctx, &pb.WatchEventsRequest{FromSeq: from, Follow: follow})
			if err != nil {
				return err
			}
			var cutoff time.Time
			if since > 0 {
				cutoff = time.Now().Add(-since)
			}
			w := cmd.OutOrStdout()
			for {
				e, err := stream.Recv()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					if ctx.Err() != nil && follow {
						return nil // Ctrl-C
					}
					return err
				}
				at := time.Unix(0, e.TimeUnixNano).UTC()
				if at.Before(cutoff) {
					continue
				}
				if o.output != "table" {
					if err := render(w, o.output, e, nil); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(w, "%s  %-12s  %s: %s  (seq %d)\n", at.Format(time.RFC3339), e.Kind, e.Subject, e.Message, e.Seq)
			}
		}}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events (Ctrl-C to stop)")
	f.DurationVar(&since, "since", 0, "only events of the last DURATION (10m, 2h)")
	f.Uint64Var(&from, "from", 0, "only events after this sequence number (resume)")
	return cmd
}
