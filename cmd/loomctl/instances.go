package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// now is the clock AGE is counted on (tests fix it).
var now = time.Now

// newGetInstances is `get instances`: the cluster's loomds, this one (the
// one --server reached) marked with a * after its name.
func newGetInstances(o *options) *cobra.Command {
	return &cobra.Command{Use: "instances", Short: "the cluster's loomd instances (* marks the one answering)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.call(func(ctx context.Context, conn *grpc.ClientConn) error {
				r, err := pb.NewControllerServiceClient(conn).ListInstances(ctx, &pb.ListInstancesRequest{})
				if err != nil {
					return err
				}
				return render(cmd.OutOrStdout(), o.output, r, func() *table {
					t := &table{header: []string{"NAME", "STATE", "MASTERS", "OPENFLOW", "API", "VERSION", "AGE"}}
					for _, in := range r.Instances {
						name := in.Name
						if in.Self {
							name += "*"
						}
						t.add(name, in.State, in.Masters, strings.Join(in.Openflow, ","), in.Api, in.Version, age(in.StartedUnixNano))
					}
					return t
				})
			})
		}}
}

// age is how long ago a *_unix_nano time was, to the unit that matters
// (45s, 7m30s, 3h25m, 2d4h); "-" when unset.
func age(unixNano int64) string {
	if unixNano == 0 {
		return "-"
	}
	d := now().Sub(time.Unix(0, unixNano))
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
