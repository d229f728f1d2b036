package controller

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func (a *API) session(dpid uint64) (*session, error) {
	if dpid == 0 {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	s := a.c.reg.get(dpid)
	if s == nil || s.rec == nil {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: fmt.Sprintf("no connected switch 0x%016x", dpid)}
	}
	return s, nil
}

// ListFlows implements FlowService.
func (a *API) ListFlows(ctx context.Context, req *pb.ListFlowsRequest) (*pb.ListFlowsResponse, error) {
	if req.GetDpid() == 0 {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	if err := a.knownSwitch(req.GetDpid()); err != nil {
		return nil, err
	}
	if app := req.GetApp(); app != "" && !a.knownApp(app) {
		return nil, &InvalidArgumentError{Field: "app", Reason: fmt.Sprintf("no app %q (apps: %s)", app, strings.Join(a.appNames(), ", "))}
	}
	resp := &pb.ListFlowsResponse{}
	if !req.GetInstalled() {
		for _, c := range a.c.desired.claims(req.GetDpid()) {
			if req.GetApp() != "" && c.owner.app != req.GetApp() {
				continue
			}
			resp.Flows = append(resp.Flows, &pb.Flow{Text: c.flow.String(), App: c.owner.app, Key: c.owner.key,
				Cookie: uint64(c.flow.Cookie), Table: uint32(c.flow.Table), Priority: uint32(c.flow.Priority)})
		}
		sort.Slice(resp.Flows, func(i, j int) bool { return resp.Flows[i].Text < resp.Flows[j].Text })
		return resp, nil
	}
	s, err := a.session(req.GetDpid())
	if err != nil {
		return nil, err
	}
	stats, err := dumpFlows(ctx, s.conn)
	if err != nil {
		return nil, fmt.Errorf("switch 0x%016x: %w", req.GetDpid(), err)
	}
	for _, fs := range stats {
		pf := &pb.Flow{Text: describeInstalled(fs), Cookie: fs.Cookie, Table: uint32(fs.TableID), Priority: uint32(fs.Priority),
			Packets: fs.Packets, Bytes: fs.Bytes, AgeSeconds: fs.DurationSec}
		if c := flow.Cookie(fs.Cookie); c.IsLoom() {
			pf.App = a.appName(c.App())
		}
		resp.Flows = append(resp.Flows, pf)
	}
	return resp, nil
}

// knownSwitch says why dpid names no switch Loom knows (Controller.knows):
// an empty answer for a typo would look like a switch with nothing on it.
func (a *API) knownSwitch(dpid uint64) error {
	if a.c.knows(dpid) {
		return nil
	}
	return &InvalidArgumentError{Field: "dpid", Reason: fmt.Sprintf("no switch 0x%016x is connected, known or has flows", dpid)}
}

// knownApp says whether name is an app's (or the external apps').
func (a *API) knownApp(name string) bool {
	return slices.Contains(a.appNames(), name)
}

// appNames lists the apps that own flows: the built-in ones and the
// external apps' shared name.
func (a *API) appNames() []string {
	names := []string{externalApp}
	for _, app := range a.c.apps {
		names = append(names, app.Name())
	}
	sort.Strings(names)
	return names
}

func (a *API) appName(id flow.AppID) string {
	if id == externalID {
		return externalApp
	}
	if app, ok := a.c.byID[id]; ok {
		return app.Name()
	}
	return fmt.Sprintf("app-%d", id)
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
	s, err := a.session(req.GetDpid())
	if err != nil {
		return nil, err
	}
	body, err := dumpFlowBody(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	var ops []op
	var diffErr error
	// On the session goroutine: the reconciler's state is its own.
	if err := s.do(func() {
		want := a.c.desired.peek(s.dpid, s.log, &a.c.stats)
		ops, diffErr = s.rec.diffBody(body, want, s.rec.holds(want))
	}); err != nil {
		return nil, err
	}
	if diffErr != nil {
		return nil, diffErr
	}
	resp := &pb.DiffFlowsResponse{}
	for _, o := range ops {
		resp.Changes = append(resp.Changes, &pb.FlowChange{Command: commandName(o.cmd), Flow: &pb.Flow{
			Text: o.flow.String(), App: o.owner.app, Key: o.owner.key, Cookie: uint64(o.flow.Cookie),
			Table: uint32(o.flow.Table), Priority: uint32(o.flow.Priority)}})
	}
	return resp, nil
}

// ListSwitchErrors implements FlowService.
func (a *API) ListSwitchErrors(ctx context.Context, req *pb.ListSwitchErrorsRequest) (*pb.ListSwitchErrorsResponse, error) {
	s, err := a.session(req.GetDpid())
	if err != nil {
		return nil, err
	}
	resp := &pb.ListSwitchErrorsResponse{}
	for _, e := range s.errors.list() {
		resp.Errors = append(resp.Errors, &pb.SwitchError{TimeUnix: e.Time.Unix(), Error: e.Error, App: e.App, Key: e.Key, Flow: e.Flow})
	}
	return resp, nil
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func externalOwner(client, key string) (owner, error) {
	if !clientName.MatchString(client) {
		return owner{}, &InvalidArgumentError{Field: "client", Reason: fmt.Sprintf("%q: want 1-64 letters, digits, '.', '_' or '-'", client)}
	}
	if key == "" || len(key) > 256 || strings.ContainsRune(key, 0) {
		return owner{}, &InvalidArgumentError{Field: "key", Reason: "required, at most 256 bytes, no NUL"}
	}
	return owner{app: externalApp, key: client + "/" + key}, nil
}

// SetFlows implements FlowService.
func (a *API) SetFlows(ctx context.Context, req *pb.SetFlowsRequest) (*pb.SetFlowsResponse, error) {
	o, err := externalOwner(req.GetClient(), req.GetKey())
	if err != nil {
		return nil, err
	}
	if req.GetDpid() == 0 {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	flows := make([]flow.Flow, 0, len(req.GetFlows()))
	for i, text := range req.GetFlows() {
		f, err := flow.Parse(text)
		if err == nil {
			err = a.c.pipeline.Check(f)
		}
		if err != nil {
			return nil, &InvalidArgumentError{Field: fmt.Sprintf("flows[%d]", i), Reason: err.Error()}
		}
		flows = append(flows, f)
	}
	if err := a.c.declareExternal(ctx, req.GetDpid(), o, flows, false); err != nil {
		return nil, err
	}
	a.kick(req.GetDpid())
	return &pb.SetFlowsResponse{}, nil
}

// DeleteFlows implements FlowService.
func (a *API) DeleteFlows(ctx context.Context, req *pb.DeleteFlowsRequest) (*pb.DeleteFlowsResponse, error) {
	o, err := externalOwner(req.GetClient(), req.GetKey())
	if err != nil {
		return nil, err
	}
	if err := a.c.declareExternal(ctx, req.GetDpid(), o, nil, true); err != nil {
		return nil, err
	}
	a.kick(req.GetDpid())
	return &pb.DeleteFlowsResponse{}, nil
}

// kick makes a connected switch's session apply what changed.
func (a *API) kick(dpid uint64) {
	if s := a.c.reg.get(dpid); s != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// WatchPacketIns implements PacketService.
func (a *API) WatchPacketIns(ctx context.Context, req *pb.WatchPacketInsRequest, send func(*pb.PacketIn) error) error {
	if req.GetEthType() > 0xffff {
		return &InvalidArgumentError{Field: "eth_type", Reason: fmt.Sprintf("%#x is not a 16-bit ethertype", req.GetEthType())}
	}
	release, err := a.c.admitWatcher(true)
	if err != nil {
		return err
	}
	defer release()
	sub, cancel := a.c.packets.add(PacketFilter{DPID: req.GetDpid(), EthType: uint16(req.GetEthType()),
		Cookie: req.GetCookie(), CookieMask: req.GetCookieMask()}, 256)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.stopping:
			return ErrShuttingDown
		case <-sub.gone:
			return ErrWatcherTooSlow
		case p := <-sub.ch:
			sub.received(p)
			if err := send(&pb.PacketIn{Dpid: p.DPID, InPort: p.InPort, Table: uint32(p.TableID), Cookie: uint64(p.Cookie),
				Data: p.Data, TimeUnixNano: p.Time.UnixNano()}); err != nil {
				return err
			}
		}
	}
}

// SendPacketOut implements PacketService.
func (a *API) SendPacketOut(ctx context.Context, req *pb.SendPacketOutRequest) (*pb.SendPacketOutResponse, error) {
	s, err := a.session(req.GetDpid())
	if err != nil {
		return nil, err
	}
	acts, err := flow.ParseActions(strings.Join(req.GetActions(), ","))
	if err != nil || len(acts) == 0 {
		reason := "at least one action is required"
		if err != nil {
			reason = err.Error()
		}
		return nil, &InvalidArgumentError{Field: "actions", Reason: reason}
	}
	if len(req.GetData()) < 14 {
		return nil, &InvalidArgumentError{Field: "data", Reason: fmt.Sprintf("%d bytes is not an Ethernet frame", len(req.GetData()))}
	}
	s.packetOut(apps.PacketOut{DPID: s.dpid, InPort: req.GetInPort(), Actions: acts, Data: req.GetData()})
	return &pb.SendPacketOutResponse{}, nil
}
