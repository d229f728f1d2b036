package northbound

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// flowFilter is what ListFlows selects by, beyond the switch: a
// network's VLAN, and a port's number on each switch.
type flowFilter struct {
	app   string
	vlan  uint16
	byNet bool
	ports map[uint64]uint32 // dpid -> the named port's number (set when filtering by port)
}

// keep says whether flow m (of app, on dpid) passes the filter.
func (f flowFilter) keep(dpid uint64, app string, m flow.Match) bool {
	if f.app != "" && app != f.app {
		return false
	}
	if f.byNet {
		if v, ok := m.VLANValue(); !ok || v != f.vlan {
			return false
		}
	}
	if f.ports != nil {
		no, ok := f.ports[dpid]
		in, has := m.InPortValue()
		if !ok || !has || in != no {
			return false
		}
	}
	return true
}

// ListFlows implements FlowService: the desired (or, installed, the held)
// flows of one switch or of all, selected by app, network and port.
func (a *API) ListFlows(ctx context.Context, req *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
	dpids, err := a.flowSwitches(req.GetDpid(), req.GetInstalled())
	if err != nil {
		return nil, err
	}
	f, err := a.flowFilter(req, dpids)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListFlowsResponse{}
	for _, dpid := range dpids {
		if req.GetInstalled() {
			stats, err := a.rt.InstalledFlows(ctx, dpid)
			if err != nil {
				return nil, err
			}
			resp.Flows = append(resp.Flows, a.installedFlows(dpid, stats, f)...)
			continue
		}
		var flows []*pb.Flow
		for _, c := range a.rt.Declared(dpid) {
			if f.keep(dpid, c.App, c.Flow.Match) {
				flows = append(flows, &pb.Flow{Dpid: dpid, Text: c.Flow.String(), App: c.App, Key: c.Key,
					Cookie: uint64(c.Flow.Cookie), Table: uint32(c.Flow.Table), Priority: uint32(c.Flow.Priority)})
			}
		}
		sort.Slice(flows, func(i, j int) bool { return flows[i].Text < flows[j].Text })
		resp.Flows = append(resp.Flows, flows...)
	}
	return resp, nil
}

// installedFlows are a switch's held flows that pass f.
func (a *API) installedFlows(dpid uint64, stats []openflow.FlowStats, f flowFilter) []*pb.Flow {
	var out []*pb.Flow
	for _, fs := range stats {
		pf := &pb.Flow{Dpid: dpid, Text: describeInstalled(fs), Cookie: fs.Cookie, Table: uint32(fs.TableID),
			Priority: uint32(fs.Priority), Packets: fs.Packets, Bytes: fs.Bytes, AgeSeconds: fs.DurationSec}
		if c := flow.Cookie(fs.Cookie); c.IsLoom() {
			pf.App = a.rt.AppName(c.App())
		}
		m, err := flow.MatchFromOXMs(fs.Match)
		if err != nil && (f.byNet || f.ports != nil) {
			continue // a match Loom cannot read says nothing of the VLAN or port asked for
		}
		if f.keep(dpid, pf.App, m) {
			out = append(out, pf)
		}
	}
	return out
}

// flowSwitches are the switches a ListFlows reads: the one named (which
// Loom must know), or all: every one Loom knows, or, for the installed
// flows, every connected one.
func (a *API) flowSwitches(dpid uint64, installed bool) ([]uint64, error) {
	if dpid != 0 {
		if err := a.knownSwitch(dpid); err != nil {
			return nil, err
		}
		return []uint64{dpid}, nil
	}
	seen := map[uint64]bool{}
	for _, c := range a.rt.Connections() {
		seen[c.DPID] = true
	}
	if !installed && a.top != nil {
		for _, s := range a.top.Snapshot().Switches {
			seen[s.DPID] = true
		}
	}
	out := make([]uint64, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// flowFilter checks the request's selectors and resolves them.
func (a *API) flowFilter(req *pb.ListFlowsRequest, dpids []uint64) (flowFilter, error) {
	f := flowFilter{app: req.GetApp()}
	if f.app != "" && !a.knownApp(f.app) {
		return f, &controller.InvalidArgumentError{Field: "app", Reason: fmt.Sprintf("no app %q (apps: %s)", f.app, strings.Join(a.rt.AppNames(), ", "))}
	}
	if name := req.GetNetwork(); name != "" {
		pol := a.currentPolicy()
		var names []string
		if pol != nil {
			for _, n := range pol.Networks() {
				if n.Name == name {
					f.vlan, f.byNet = uint16(n.VLAN), true
				}
				names = append(names, n.Name)
			}
		}
		if !f.byNet {
			return f, &controller.InvalidArgumentError{Field: "network", Reason: fmt.Sprintf("no network %q (networks: %s)", name, strings.Join(names, ", "))}
		}
	}
	if name := req.GetPort(); name != "" {
		f.ports = map[uint64]uint32{}
		if a.top != nil {
			for _, p := range a.top.Snapshot().Ports {
				if p.Name == name && slices.Contains(dpids, p.DPID) {
					f.ports[p.DPID] = p.No
				}
			}
		}
		if len(f.ports) == 0 {
			return f, &controller.InvalidArgumentError{Field: "port", Reason: fmt.Sprintf("no port %q on the switches asked for", name)}
		}
	}
	return f, nil
}
