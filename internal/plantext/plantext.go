// Package plantext prints a plan (what a config change would do to each
// switch's flows) the way loomctl plan and loomd --check-config show it.
package plantext

import (
	"fmt"
	"io"
	"strings"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Write prints the warnings first ("warning: ..."), then the networks
// added and removed, then, per switch with changes, a summary line and
// "+ flow", "~ old => new" and "- flow" lines; "no changes" when there
// are none.
func Write(w io.Writer, r *pb.PlanResponse) {
	for _, warning := range r.GetWarnings() {
		fmt.Fprintln(w, "warning: "+warning)
	}
	var nets []string
	for _, n := range r.GetNetworksAdded() {
		nets = append(nets, "+"+n)
	}
	for _, n := range r.GetNetworksRemoved() {
		nets = append(nets, "-"+n)
	}
	if len(nets) > 0 {
		fmt.Fprintln(w, "networks: "+strings.Join(nets, " "))
	}
	changes := 0
	for _, s := range r.GetSwitches() {
		if len(s.Add)+len(s.Change)+len(s.Remove) == 0 {
			continue
		}
		if changes > 0 || len(nets)+len(r.GetWarnings()) > 0 {
			fmt.Fprintln(w)
		}
		changes++
		fmt.Fprintf(w, "switch 0x%016x: +%d ~%d -%d (of %d policy flows)\n", s.Dpid, len(s.Add), len(s.Change), len(s.Remove), s.Flows)
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
