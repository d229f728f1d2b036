// Package plantext prints a plan (what a config change would do to each
// switch's flows) the way loomctl plan and loomd --check-config show it.
package plantext

import (
	"fmt"
	"io"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Write prints, per switch with changes, a summary line and then "+ flow",
// "~ old => new" and "- flow" lines; "no changes" when there are none.
func Write(w io.Writer, r *pb.PlanResponse) {
	changes := 0
	for _, s := range r.GetSwitches() {
		if len(s.Add)+len(s.Change)+len(s.Remove) == 0 {
			continue
		}
		if changes > 0 {
			fmt.Fprintln(w)
		}
		changes++
		fmt.Fprintf(w, "switch 0x%016x: +%d ~%d -%d\n", s.Dpid, len(s.Add), len(s.Change), len(s.Remove))
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
}
