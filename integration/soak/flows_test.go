package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// flowResult compares what a bridge holds with what Loom says it wants.
type flowResult struct {
	bridge    string
	desired   int
	installed int
	missing   []string // desired, not on the switch (or different there)
	extra     []string // on the switch, not desired (or different)
	err       error
}

func (r flowResult) String() string {
	if r.err != nil {
		return fmt.Sprintf("%s: %v", r.bridge, r.err)
	}
	return fmt.Sprintf("%s: %d desired, %d installed, %d missing, %d extra", r.bridge, r.desired, r.installed, len(r.missing), len(r.extra))
}

// checkFlows asks the API for the bridge's desired flows and lets OVS
// itself compare them with its table: `ovs-ofctl diff-flows SWITCH FILE`
// parses Loom's text with OVS's own parser and compares match, priority,
// table, actions and cookie, so formatting differences cannot hide or
// invent a difference.
func checkFlows(ctx context.Context, fc pb.FlowServiceClient, br *harness.Bridge, dir string) flowResult {
	res := flowResult{bridge: fmt.Sprintf("%s/%s (0x%x)", br.H.Name, br.Name, br.DPID)}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	want, err := fc.ListFlows(ctx, &pb.ListFlowsRequest{Dpid: br.DPID})
	if err != nil {
		res.err = fmt.Errorf("ListFlows: %w", err)
		return res
	}
	var lines []string
	for _, f := range want.Flows {
		lines = append(lines, fmt.Sprintf("cookie=0x%x, %s", f.Cookie, f.Text))
	}
	res.desired = len(lines)
	file := filepath.Join(dir, fmt.Sprintf("desired-%x.flows", br.DPID))
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		res.err = err
		return res
	}
	installed, err := br.DumpFlows()
	if err != nil {
		res.err = err
		return res
	}
	res.installed = len(installed)
	out, err := br.Ofctl("diff-flows", file)
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "+"):
			res.missing = append(res.missing, strings.TrimSpace(l[1:]))
		case strings.HasPrefix(l, "-"):
			res.extra = append(res.extra, strings.TrimSpace(l[1:]))
		}
	}
	// diff-flows exits non-zero when it found differences; only an error
	// without any difference line is a failure to compare.
	if err != nil && len(res.missing) == 0 && len(res.extra) == 0 {
		res.err = err
	}
	return res
}
