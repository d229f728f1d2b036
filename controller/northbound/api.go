// Package northbound is Loom's Go API: every RPC of proto/loom/v1, over
// the runtime (controller) and the network policy (controller/policy).
// Its methods take and return the wire types, so the gRPC server
// (controller/api) is a one-line adapter per RPC, and loomctl, external
// apps and config reloads all go through the same code (the gobgp
// shape). Errors are the controller's domain errors; controller/api maps
// them to status codes in one table.
package northbound

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/internal/group"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

// API is the Go API.
type API struct {
	rt       Runtime
	pol      *policy.Service // nil: loomd runs no network policy
	top      *topology.Topology
	version  string
	started  time.Time
	stopping chan struct{} // closed by Shutdown: streams end
	stopOnce sync.Once
	hub      *watchHub    // nil without a topology
	jobs     *group.Group // the hub's goroutine; Shutdown awaits it

	shutMu     sync.Mutex
	onShutdown []func()

	auditMu sync.Mutex
	audits  map[[3]string]*auditState // Audit's per-caller rate (events.go)
}

// OnShutdown runs fn when Shutdown is first called, before the streams
// end (the gRPC health service turns NOT_SERVING, so a load balancer
// stops sending here first).
func (a *API) OnShutdown(fn func()) {
	a.shutMu.Lock()
	defer a.shutMu.Unlock()
	a.onShutdown = append(a.onShutdown, fn)
}

// New returns the API over rt and, when loomd runs one, the network
// policy pol.
func New(rt Runtime, pol *policy.Service, version string) *API {
	a := &API{rt: rt, pol: pol, top: rt.Topology(), version: version, started: rt.Now(), stopping: make(chan struct{}),
		jobs: group.New(context.Background(), logrus.NewEntry(logrus.StandardLogger()).WithField("component", "api"))}
	if a.top != nil {
		a.hub = startWatchHub(a.jobs, a.top, a.stopping)
	}
	return a
}

// Shutdown ends every stream (watches) with ErrShuttingDown, so a
// graceful stop of the server does not wait on clients that never hang
// up, and waits for the API's own goroutine. Safe to call more than once.
func (a *API) Shutdown() {
	a.stopOnce.Do(func() {
		a.shutMu.Lock()
		fns := a.onShutdown
		a.shutMu.Unlock()
		for _, fn := range fns {
			fn()
		}
		close(a.stopping)
	})
	a.jobs.Close()
}

func (a *API) topology() (*topology.Topology, error) {
	if a.top == nil {
		return nil, controller.ErrNoTopology
	}
	return a.top, nil
}

// GetStatus implements ControllerService.
func (a *API) GetStatus(ctx context.Context, _ *pb.GetStatusRequest) (*pb.GetStatusResponse, error) {
	st := a.rt.Stats()
	resp := &pb.GetStatusResponse{Version: a.version, StartedUnix: a.started.Unix(),
		UptimeSeconds: int64(a.rt.Now().Sub(a.started).Seconds()),
		Counters: &pb.Counters{PacketIns: st.PacketIns, PacketInsDropped: st.PacketInsDropped, FlowMods: st.FlowMods,
			PacketOuts: st.PacketOuts, SwitchErrors: st.SwitchErrors, RejectedConnections: st.RejectedConns,
			BundlesRejected: st.BundlesRejected, Conflicts: st.Conflicts, DriftRepairs: st.DriftRepairs, InvalidFlows: st.InvalidFlows}}
	for _, c := range a.rt.Health() {
		pc := &pb.Condition{Kind: c.Kind, Subject: c.Subject, Message: c.Message}
		if !c.Since.IsZero() {
			pc.SinceUnix = c.Since.Unix()
		}
		resp.Conditions = append(resp.Conditions, pc)
	}
	resp.Healthy = len(resp.Conditions) == 0
	if top, err := a.topology(); err == nil {
		for _, s := range top.Snapshot().Switches {
			resp.Switches = append(resp.Switches, &pb.SwitchConnection{Dpid: s.DPID, Remote: s.Remote, Connected: s.Connected})
		}
		return resp, nil
	}
	for _, s := range a.rt.Connections() {
		resp.Switches = append(resp.Switches, &pb.SwitchConnection{Dpid: s.DPID, Remote: s.Remote, Connected: true})
	}
	return resp, nil
}

// ListHypervisors implements TopologyService.
func (a *API) ListHypervisors(ctx context.Context, _ *pb.ListHypervisorsRequest) (*pb.ListHypervisorsResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	resp := &pb.ListHypervisorsResponse{Revision: s.Revision}
	for _, h := range s.Hypervisors {
		resp.Hypervisors = append(resp.Hypervisors, toHypervisor(h))
	}
	return resp, nil
}

// ListSwitches implements TopologyService.
func (a *API) ListSwitches(ctx context.Context, _ *pb.ListSwitchesRequest) (*pb.ListSwitchesResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	resp := &pb.ListSwitchesResponse{Revision: s.Revision}
	for _, x := range s.Switches {
		ps := toSwitch(x)
		ps.Master = a.rt.MasterOf(x.DPID)
		resp.Switches = append(resp.Switches, ps)
	}
	return resp, nil
}

// ListPorts implements TopologyService: each port with how the network
// policy reads it.
func (a *API) ListPorts(ctx context.Context, req *pb.ListPortsRequest) (*pb.ListPortsResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	if req.GetDpid() != 0 && !hasSwitch(s, req.GetDpid()) {
		return nil, &controller.InvalidArgumentError{Field: "dpid", Reason: fmt.Sprintf("no switch 0x%016x", req.GetDpid())}
	}
	pol := a.currentPolicy()
	resp := &pb.ListPortsResponse{Revision: s.Revision}
	for _, p := range s.Ports {
		if req.GetDpid() == 0 || p.DPID == req.GetDpid() {
			pp := toPort(p)
			withMode(pp, pol, p)
			resp.Ports = append(resp.Ports, pp)
		}
	}
	return resp, nil
}

// currentPolicy is the policy in force (nil without one).
func (a *API) currentPolicy() *network.Policy {
	if a.pol == nil {
		return nil
	}
	return a.pol.Current()
}

// withMode adds to pp how pol reads port p: its network and VLANs.
func withMode(pp *pb.Port, pol *network.Policy, p topology.Port) {
	if pol == nil || p.Kind == topology.PortTunnel || p.Kind == topology.PortPatch {
		return // the mesh's and the fabric's ports carry no network of their own
	}
	m := pol.Mode(p)
	pp.ModeReason = m.Why
	for _, v := range m.Tagged {
		pp.TaggedVlans = append(pp.TaggedVlans, uint32(v))
	}
	if m.UntaggedOK && m.Untagged != network.DefaultSegment {
		pp.Vlan = uint32(m.Untagged)
		pp.Network = networkName(pol, m.Untagged)
	}
}

// networkName is the name of the network on vid ("" for none declared).
func networkName(pol *network.Policy, vid uint16) string {
	if n, ok := pol.Network(vid); ok {
		return n.Name
	}
	return ""
}

func hasSwitch(s topology.Snapshot, dpid uint64) bool {
	for _, x := range s.Switches {
		if x.DPID == dpid {
			return true
		}
	}
	return false
}

// ListLinks implements TopologyService: each end with its port's name.
func (a *API) ListLinks(ctx context.Context, _ *pb.ListLinksRequest) (*pb.ListLinksResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	resp := &pb.ListLinksResponse{Revision: s.Revision}
	for _, l := range s.Links {
		pl := toLink(l)
		pl.A.Name, pl.B.Name = portName(top, l.A), portName(top, l.B)
		pl.Kind = linkKind(top, l)
		resp.Links = append(resp.Links, pl)
	}
	return resp, nil
}

// linkKind is "patch" for a link between two OVS patch ports, else
// "wire".
func linkKind(top *topology.Topology, l topology.Link) string {
	a, okA := top.Port(l.A.DPID, l.A.Port)
	b, okB := top.Port(l.B.DPID, l.B.Port)
	if okA && okB && a.Kind == topology.PortPatch && b.Kind == topology.PortPatch {
		return "patch"
	}
	return "wire"
}

// portName is the name of the port at e ("" when unknown).
func portName(top *topology.Topology, e topology.Endpoint) string {
	if p, ok := top.Port(e.DPID, e.Port); ok {
		return p.Name
	}
	return ""
}

// ListHosts implements TopologyService.
func (a *API) ListHosts(ctx context.Context, _ *pb.ListHostsRequest) (*pb.ListHostsResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	pol := a.currentPolicy()
	resp := &pb.ListHostsResponse{Revision: s.Revision}
	for _, h := range s.Hosts {
		ph := toHost(h)
		hostNetwork(ph, pol, top)
		resp.Hosts = append(resp.Hosts, ph)
	}
	return resp, nil
}

// hostNetwork fills in a host's VLAN, when the learning switch did not
// report one, from the port it was seen on (an access port carries one
// network), and the network of that VLAN.
func hostNetwork(ph *pb.Host, pol *network.Policy, top *topology.Topology) {
	if pol == nil {
		return
	}
	if ph.Vlan == 0 {
		if p, ok := top.Port(ph.Dpid, ph.Port); ok {
			if m := pol.Mode(p); len(m.Tagged) == 0 && m.UntaggedOK {
				ph.Vlan = int32(m.Untagged)
			}
		}
	}
	if ph.Vlan > 0 && ph.Vlan <= 4094 {
		ph.Network = networkName(pol, uint16(ph.Vlan))
	}
}

// ListTunnels implements TopologyService.
func (a *API) ListTunnels(ctx context.Context, _ *pb.ListTunnelsRequest) (*pb.ListTunnelsResponse, error) {
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	hv := map[uint64]string{}
	for _, x := range s.Switches {
		hv[x.DPID] = x.Hypervisor
	}
	resp := &pb.ListTunnelsResponse{Revision: s.Revision}
	for _, p := range s.Ports {
		if p.Tunnel != nil {
			resp.Tunnels = append(resp.Tunnels, &pb.Tunnel{Dpid: p.DPID, Port: p.No, Name: p.Name, Type: p.Tunnel.Type,
				RemoteIp: p.Tunnel.RemoteIP, Key: p.Tunnel.Key, Up: p.Up, Hypervisor: hv[p.DPID]})
		}
	}
	for _, peer := range a.rt.Peers() {
		tp := &pb.TunnelPeer{From: peer.From, To: peer.To, RemoteIp: peer.RemoteIP, Up: peer.Up, Reason: peer.Reason}
		if !peer.LastProbe.IsZero() {
			tp.LastProbeUnixNano = peer.LastProbe.UnixNano()
		}
		resp.Peers = append(resp.Peers, tp)
	}
	return resp, nil
}

// WatchTopology implements TopologyService: every event after
// req.FromRevision (from now when 0), until ctx ends or send fails.
func (a *API) WatchTopology(ctx context.Context, req *pb.WatchTopologyRequest, send func(*pb.TopologyEvent) error) error {
	top, err := a.topology()
	if err != nil {
		return err
	}
	// Admitted first: a client refused (and retrying) must not queue on the
	// model's lock with everyone else.
	release, err := a.rt.AdmitWatcher(false)
	if err != nil {
		return err
	}
	defer release()
	if cur := top.Revision(); req.GetFromRevision() > cur { // not a Snapshot: watches open by the thousand
		return &controller.InvalidArgumentError{Field: "from_revision", Reason: fmt.Sprintf("%d is ahead of the current revision %d", req.GetFromRevision(), cur)}
	}
	// A cursor, not a channel: the stream holds no buffer of its own and
	// takes no lock of the model's while it waits or sends; the events
	// are converted once for all streams (watchHub).
	cur, err := a.hub.cursor(req.GetFromRevision(), top.Revision())
	if err != nil {
		return err
	}
	return stream(ctx, a, cur, true, func(e *pb.TopologyEvent) *pb.TopologyEvent { return e }, send)
}

func toHypervisor(h topology.Hypervisor) *pb.Hypervisor {
	return &pb.Hypervisor{Name: h.Name, Ovsdb: h.OVSDB, TunnelIp: h.TunnelIP, SystemId: h.SystemID, Hostname: h.Hostname,
		Connected: h.Connected, Error: h.Error}
}

func toSwitch(s topology.Switch) *pb.Switch {
	return &pb.Switch{Dpid: s.DPID, Bridge: s.Bridge, Hypervisor: s.Hypervisor, Remote: s.Remote, Connected: s.Connected}
}

func toPort(p topology.Port) *pb.Port {
	out := &pb.Port{Dpid: p.DPID, No: p.No, Name: p.Name, Mac: p.MAC, Up: p.Up, SpeedKbps: p.SpeedKbps, Kind: string(p.Kind),
		Tag: int32(p.Tag), PatchPeer: p.PatchPeer}
	if p.VM != nil {
		out.Vm = &pb.VM{Mac: p.VM.MAC, IfaceId: p.VM.IfaceID, Uuid: p.VM.UUID, Status: p.VM.Status}
	}
	return out
}

func toLink(l topology.Link) *pb.Link {
	return &pb.Link{A: &pb.Endpoint{Dpid: l.A.DPID, Port: l.A.Port}, B: &pb.Endpoint{Dpid: l.B.DPID, Port: l.B.Port}}
}

func toHost(h topology.Host) *pb.Host {
	return &pb.Host{Mac: h.MAC, Ips: h.IPs, Dpid: h.DPID, Port: h.Port, Vlan: int32(h.VLAN), LastSeenUnix: h.LastSeen.Unix()}
}

func toEvent(e topology.Event) *pb.TopologyEvent {
	out := &pb.TopologyEvent{Revision: e.Revision, Type: string(e.Type), Key: e.Key}
	switch o := e.Object.(type) {
	case topology.Hypervisor:
		out.Object = &pb.TopologyEvent_Hypervisor{Hypervisor: toHypervisor(o)}
	case topology.Switch:
		out.Object = &pb.TopologyEvent_Switch{Switch: toSwitch(o)}
	case topology.Port:
		out.Object = &pb.TopologyEvent_Port{Port: toPort(o)}
	case topology.Link:
		out.Object = &pb.TopologyEvent_Link{Link: toLink(o)}
	case topology.Host:
		out.Object = &pb.TopologyEvent_Host{Host: toHost(o)}
	}
	return out
}

// ForgetSwitch implements ControllerService.
func (a *API) ForgetSwitch(ctx context.Context, req *pb.ForgetSwitchRequest) (*pb.ForgetSwitchResponse, error) {
	if req.GetDpid() == 0 {
		return nil, &controller.InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	if !a.rt.Knows(req.GetDpid()) {
		return nil, &controller.NotFoundError{Kind: "switch", Name: fmt.Sprintf("0x%016x", req.GetDpid())}
	}
	n, err := a.rt.ForgetSwitch(ctx, req.GetDpid(), req.GetAll(), "loomctl forget switch")
	if err != nil {
		return nil, err
	}
	return &pb.ForgetSwitchResponse{Flows: uint32(n)}, nil
}
