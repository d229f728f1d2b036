package northbound

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// knownSwitch says why dpid names no switch Loom knows (Runtime.Knows):
// an empty answer for a typo would look like a switch with nothing on it.
func (a *API) knownSwitch(dpid uint64) error {
	if a.rt.Knows(dpid) {
		return nil
	}
	return &controller.InvalidArgumentError{Field: "dpid", Reason: fmt.Sprintf("no switch 0x%016x is connected, known or has flows", dpid)}
}

// knownApp says whether name is an app's (or the external apps').
func (a *API) knownApp(name string) bool {
	return slices.Contains(a.rt.AppNames(), name)
}

// describeInstalled renders a flow as the switch reports it: Loom's text
// form where Loom can model it, the raw fields otherwise.
func describeInstalled(fs openflow.FlowStats) string {
	f := flow.Flow{Table: fs.TableID, Priority: fs.Priority}
	m, err := flow.MatchFromOXMs(fs.Match)
	if err == nil {
		f.Match = m
	}
	var extra []string
	if err != nil {
		for _, o := range fs.Match {
			extra = append(extra, fmt.Sprintf("oxm(%#x:%d)=%x", o.Class, o.Field, o.Value))
		}
	}
	var acts []string
	for _, in := range fs.Instructions {
		switch in.Type {
		case openflow.InstrApplyActions:
			for _, act := range in.Actions {
				if a, ok := flow.ActionFromWire(act); ok {
					acts = append(acts, a.String())
				} else {
					acts = append(acts, fmt.Sprintf("action(%d)", act.Type))
				}
			}
		case openflow.InstrGotoTable:
			acts = append(acts, fmt.Sprintf("goto_table:%d", in.TableID))
		default:
			acts = append(acts, fmt.Sprintf("instruction(%d)", in.Type))
		}
	}
	text := fmt.Sprintf("table=%d, priority=%d", f.Table, f.Priority)
	if ms := f.Match.String(); ms != "" {
		text += "," + ms
	}
	if len(extra) > 0 {
		text += "," + strings.Join(extra, ",")
	}
	if len(acts) == 0 {
		return text + " actions=drop"
	}
	return text + " actions=" + strings.Join(acts, ",")
}

// DiffFlows implements FlowService: the next reconcile's flow-mods.
func (a *API) DiffFlows(ctx context.Context, req *pb.DiffFlowsRequest) (*pb.DiffFlowsResponse, error) {
	changes, err := a.rt.DiffFlows(ctx, req.GetDpid())
	if err != nil {
		return nil, err
	}
	resp := &pb.DiffFlowsResponse{}
	for _, c := range changes {
		resp.Changes = append(resp.Changes, &pb.FlowChange{Command: c.Command, Flow: &pb.Flow{
			Text: c.Flow.String(), App: c.App, Key: c.Key, Cookie: uint64(c.Flow.Cookie),
			Table: uint32(c.Flow.Table), Priority: uint32(c.Flow.Priority)}})
	}
	return resp, nil
}

// ListSwitchErrors implements FlowService.
func (a *API) ListSwitchErrors(ctx context.Context, req *pb.ListSwitchErrorsRequest) (*pb.ListSwitchErrorsResponse, error) {
	errs, err := a.rt.SwitchErrors(req.GetDpid())
	if err != nil {
		return nil, err
	}
	resp := &pb.ListSwitchErrorsResponse{}
	for _, e := range errs {
		resp.Errors = append(resp.Errors, &pb.SwitchError{TimeUnix: e.Time.Unix(), Error: e.Error, App: e.App, Key: e.Key, Flow: e.Flow})
	}
	return resp, nil
}

// SetFlows implements FlowService.
func (a *API) SetFlows(ctx context.Context, req *pb.SetFlowsRequest) (*pb.SetFlowsResponse, error) {
	// Who asks and which switch before what is asked: the fields a
	// request wrong in several ways is refused for, as it always was.
	if err := controller.CheckExternalOwner(req.GetClient(), req.GetKey()); err != nil {
		return nil, err
	}
	if req.GetDpid() == 0 {
		return nil, &controller.InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	flows := make([]flow.Flow, 0, len(req.GetFlows()))
	for i, text := range req.GetFlows() {
		f, err := flow.Parse(text)
		if err != nil {
			return nil, &controller.InvalidArgumentError{Field: fmt.Sprintf("flows[%d]", i), Reason: err.Error()}
		}
		flows = append(flows, f)
	}
	if err := a.rt.SetExternalFlows(ctx, req.GetDpid(), req.GetClient(), req.GetKey(), flows); err != nil {
		return nil, err
	}
	return &pb.SetFlowsResponse{}, nil
}

// DeleteFlows implements FlowService.
func (a *API) DeleteFlows(ctx context.Context, req *pb.DeleteFlowsRequest) (*pb.DeleteFlowsResponse, error) {
	if err := a.rt.DeleteExternalFlows(ctx, req.GetDpid(), req.GetClient(), req.GetKey()); err != nil {
		return nil, err
	}
	return &pb.DeleteFlowsResponse{}, nil
}

// WatchPacketIns implements PacketService.
func (a *API) WatchPacketIns(ctx context.Context, req *pb.WatchPacketInsRequest, send func(*pb.PacketIn) error) error {
	if req.GetEthType() > 0xffff {
		return &controller.InvalidArgumentError{Field: "eth_type", Reason: fmt.Sprintf("%#x is not a 16-bit ethertype", req.GetEthType())}
	}
	release, err := a.rt.AdmitWatcher(true)
	if err != nil {
		return err
	}
	defer release()
	sub, cancel := a.rt.SubscribePackets(controller.PacketFilter{DPID: req.GetDpid(), EthType: uint16(req.GetEthType()),
		Cookie: req.GetCookie(), CookieMask: req.GetCookieMask()}, 256)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.stopping:
			return controller.ErrShuttingDown
		case <-sub.Gone():
			return controller.ErrWatcherTooSlow
		case p := <-sub.C():
			sub.Received(p)
			if err := send(&pb.PacketIn{Dpid: p.DPID, InPort: p.InPort, Table: uint32(p.TableID), Cookie: uint64(p.Cookie),
				Data: p.Data, TimeUnixNano: p.Time.UnixNano()}); err != nil {
				return err
			}
		}
	}
}

// SendPacketOut implements PacketService.
func (a *API) SendPacketOut(ctx context.Context, req *pb.SendPacketOutRequest) (*pb.SendPacketOutResponse, error) {
	if err := a.rt.SwitchReady(req.GetDpid()); err != nil { // the switch before the frame, as always
		return nil, err
	}
	acts, err := flow.ParseActions(strings.Join(req.GetActions(), ","))
	if err != nil || len(acts) == 0 {
		reason := "at least one action is required"
		if err != nil {
			reason = err.Error()
		}
		return nil, &controller.InvalidArgumentError{Field: "actions", Reason: reason}
	}
	if len(req.GetData()) < 14 {
		return nil, &controller.InvalidArgumentError{Field: "data", Reason: fmt.Sprintf("%d bytes is not an Ethernet frame", len(req.GetData()))}
	}
	if err := a.rt.SendPacketOut(req.GetDpid(), req.GetInPort(), acts, req.GetData()); err != nil {
		return nil, err
	}
	return &pb.SendPacketOutResponse{}, nil
}
