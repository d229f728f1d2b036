package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// resolveSwitch turns a datapath id, bridge name or hypervisor/bridge
// into a datapath id, asking loomd for names.
func resolveSwitch(ctx context.Context, tc pb.TopologyServiceClient, arg string) (uint64, error) {
	if id, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(arg), "0x"), 16, 64); err == nil &&
		(strings.HasPrefix(strings.ToLower(arg), "0x") || len(arg) == 16) {
		return id, nil
	}
	r, err := tc.ListSwitches(ctx, &pb.ListSwitchesRequest{})
	if err != nil {
		return 0, err
	}
	var found []*pb.Switch
	for _, s := range r.GetSwitches() {
		if s.GetBridge() == arg || s.GetHypervisor()+"/"+s.GetBridge() == arg {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("switch %q: no switch has that datapath id, bridge or hypervisor/bridge", arg)
	case 1:
		return found[0].GetDpid(), nil
	}
	var names []string
	for _, s := range found {
		names = append(names, s.GetHypervisor()+"/"+s.GetBridge()+" ("+dpid(s.GetDpid())+")")
	}
	return 0, fmt.Errorf("switch %q is ambiguous: %s; name it as hypervisor/bridge or by datapath id", arg, strings.Join(names, ", "))
}
