package northbound

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// policy is the network policy, or ErrNoNetworks.
func (a *API) policy() (*policy.Service, error) {
	if a.pol == nil {
		return nil, controller.ErrNoNetworks
	}
	return a.pol, nil
}

// specs are the file's and the API's declarations (none without a
// policy).
func (a *API) specs() (file, api network.Spec) {
	if a.pol == nil {
		return network.Spec{}, network.Spec{}
	}
	return a.pol.Specs()
}

// required refuses an empty field.
func required(field, value string) error {
	if value == "" {
		return &controller.InvalidArgumentError{Field: field, Reason: "required"}
	}
	return nil
}

// add and del run a generic policy change, refusing a missing name
// first.
func add[T any](a *API, k policy.Kind[T], field string, item T) error {
	if err := required(field, k.Key(item)); err != nil {
		return err
	}
	pol, err := a.policy()
	if err != nil {
		return err
	}
	return policy.Add(pol, k, item)
}

func del[T any](a *API, k policy.Kind[T], field, name string) error {
	if err := required(field, name); err != nil {
		return err
	}
	pol, err := a.policy()
	if err != nil {
		return err
	}
	return policy.Delete(pol, k, name)
}

// ListNetworks implements NetworkService: the file's networks, then the
// API's.
func (a *API) ListNetworks(ctx context.Context, _ *pb.ListNetworksRequest) (*pb.ListNetworksResponse, error) {
	file, api := a.specs()
	resp := &pb.ListNetworksResponse{}
	for _, n := range file.Networks {
		resp.Networks = append(resp.Networks, toPBNetwork(n, controller.SourceFile))
	}
	for _, n := range api.Networks {
		resp.Networks = append(resp.Networks, toPBNetwork(n, controller.SourceAPI))
	}
	return resp, nil
}

// AddNetwork implements NetworkService.
func (a *API) AddNetwork(ctx context.Context, req *pb.AddNetworkRequest) (*pb.AddNetworkResponse, error) {
	if req.GetNetwork() == nil {
		return nil, &controller.InvalidArgumentError{Field: "network", Reason: "required"}
	}
	if err := add(a, policy.Networks, "network.name", fromPBNetwork(req.GetNetwork())); err != nil {
		return nil, err
	}
	return &pb.AddNetworkResponse{}, nil
}

// DeleteNetwork implements NetworkService.
func (a *API) DeleteNetwork(ctx context.Context, req *pb.DeleteNetworkRequest) (*pb.DeleteNetworkResponse, error) {
	if err := del(a, policy.Networks, "name", req.GetName()); err != nil {
		return nil, err
	}
	return &pb.DeleteNetworkResponse{}, nil
}

// ListTrunks implements NetworkService.
func (a *API) ListTrunks(ctx context.Context, _ *pb.ListTrunksRequest) (*pb.ListTrunksResponse, error) {
	file, api := a.specs()
	resp := &pb.ListTrunksResponse{}
	for _, t := range file.Trunks {
		resp.Trunks = append(resp.Trunks, toPBTrunk(t, controller.SourceFile))
	}
	for _, t := range api.Trunks {
		resp.Trunks = append(resp.Trunks, toPBTrunk(t, controller.SourceAPI))
	}
	return resp, nil
}

// AddTrunk implements NetworkService. A trunk is named by its port (name
// or glob).
func (a *API) AddTrunk(ctx context.Context, req *pb.AddTrunkRequest) (*pb.AddTrunkResponse, error) {
	if req.GetTrunk() == nil {
		return nil, &controller.InvalidArgumentError{Field: "trunk", Reason: "required"}
	}
	if err := add(a, policy.Trunks, "trunk.port", fromPBTrunk(req.GetTrunk())); err != nil {
		return nil, err
	}
	return &pb.AddTrunkResponse{}, nil
}

// DeleteTrunk implements NetworkService.
func (a *API) DeleteTrunk(ctx context.Context, req *pb.DeleteTrunkRequest) (*pb.DeleteTrunkResponse, error) {
	if err := del(a, policy.Trunks, "port", req.GetPort()); err != nil {
		return nil, err
	}
	return &pb.DeleteTrunkResponse{}, nil
}

// ListACLs implements NetworkService: the rules in the order they apply
// (the file's, then the API's), with their counters from the app that
// enforces them (apps.RuleKeyer), when one runs.
func (a *API) ListACLs(ctx context.Context, _ *pb.ListACLsRequest) (*pb.ListACLsResponse, error) {
	file, api := a.specs()
	var counters map[string]controller.Counters
	enforcer, app, ok := a.rt.RuleKeyer()
	if ok {
		var err error
		if counters, err = a.rt.KeyCounters(ctx, app); err != nil {
			return nil, fmt.Errorf("ACL counters: %w", err)
		}
	}
	resp := &pb.ListACLsResponse{}
	add := func(r network.Rule, source string) {
		pr := toPBRule(r, source)
		if ok {
			n := counters[enforcer.RuleKey(r.Name)]
			pr.Packets, pr.Bytes = n.Packets, n.Bytes
		}
		resp.Rules = append(resp.Rules, pr)
	}
	for _, r := range file.ACLs {
		add(r, controller.SourceFile)
	}
	for _, r := range api.ACLs {
		add(r, controller.SourceAPI)
	}
	return resp, nil
}

// AddACL implements NetworkService: the rule applies after every rule
// already declared.
func (a *API) AddACL(ctx context.Context, req *pb.AddACLRequest) (*pb.AddACLResponse, error) {
	if req.GetRule() == nil {
		return nil, &controller.InvalidArgumentError{Field: "rule", Reason: "required"}
	}
	if err := add(a, policy.ACLs, "rule.name", fromPBRule(req.GetRule())); err != nil {
		return nil, err
	}
	return &pb.AddACLResponse{}, nil
}

// DeleteACL implements NetworkService.
func (a *API) DeleteACL(ctx context.Context, req *pb.DeleteACLRequest) (*pb.DeleteACLResponse, error) {
	if err := del(a, policy.ACLs, "name", req.GetName()); err != nil {
		return nil, err
	}
	return &pb.DeleteACLResponse{}, nil
}

// Reload implements ControllerService: read the config file again and
// apply its networks, trunks and ACLs.
func (a *API) Reload(ctx context.Context, _ *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	pol, err := a.policy()
	if err == nil {
		err = pol.Reload()
	}
	if errors.Is(err, controller.ErrNoNetworks) {
		err = controller.ErrNoConfigFile // no policy: nothing a file could change either
	}
	if err != nil {
		return nil, err
	}
	return &pb.ReloadResponse{}, nil
}

// Plan implements ControllerService: what a config file's networks,
// trunks and ACLs would do to each connected switch's flows.
func (a *API) Plan(ctx context.Context, req *pb.PlanRequest) (*pb.PlanResponse, error) {
	cfg, err := config.Parse(req.GetConfig(), "plan")
	if err != nil {
		return nil, &controller.InvalidArgumentError{Field: "config", Reason: strings.TrimPrefix(err.Error(), "config plan: ")}
	}
	pol, err := a.policy()
	if err != nil {
		return nil, err
	}
	plan, err := pol.Plan(cfg.NetworkSpec())
	if err != nil {
		var fe *network.FieldError
		if errors.As(err, &fe) {
			return nil, &controller.InvalidArgumentError{Field: fe.Path, Reason: fe.Err.Error()}
		}
		return nil, err
	}
	resp := &pb.PlanResponse{NetworksAdded: plan.NetworksAdded, NetworksRemoved: plan.NetworksRemoved, Warnings: plan.Warnings}
	for _, p := range plan.Switches {
		resp.Switches = append(resp.Switches, &pb.SwitchPlan{Dpid: p.DPID, Add: p.Add, Change: p.Change, Remove: p.Remove,
			Flows: uint32(p.Flows)})
	}
	return resp, nil
}

func toPBNetwork(n network.Network, source string) *pb.Network {
	return &pb.Network{Name: n.Name, Vlan: uint32(n.VLAN), Vni: uint32(n.VNI), Ports: n.Ports, IfaceIds: n.IfaceIDs, VmIds: n.VMs,
		DefaultPolicy: n.Default, Stateful: n.Stateful, Source: source}
}

func fromPBNetwork(n *pb.Network) network.Network {
	return network.Network{Name: n.GetName(), VLAN: int(n.GetVlan()), VNI: int(n.GetVni()), Ports: n.GetPorts(),
		IfaceIDs: n.GetIfaceIds(), VMs: n.GetVmIds(), Default: n.GetDefaultPolicy(), Stateful: n.GetStateful()}
}

func toPBTrunk(t network.Trunk, source string) *pb.Trunk {
	out := &pb.Trunk{Port: t.Port, Native: uint32(t.Native), Source: source}
	for _, v := range t.VLANs {
		out.Vlans = append(out.Vlans, uint32(v))
	}
	return out
}

func fromPBTrunk(t *pb.Trunk) network.Trunk {
	out := network.Trunk{Port: t.GetPort(), Native: int(t.GetNative())}
	for _, v := range t.GetVlans() {
		out.VLANs = append(out.VLANs, int(v))
	}
	return out
}

func toPBRule(r network.Rule, source string) *pb.ACLRule {
	out := &pb.ACLRule{Name: r.Name, Network: r.Network, Vlan: uint32(r.VLAN), InPort: r.InPort, EthType: r.EthType,
		Src: r.Src, Dst: r.Dst, Proto: r.Proto, SrcPort: r.SrcPort, DstPort: r.DstPort, Action: r.Action, Source: source}
	if r.ICMPType != nil {
		v := uint32(*r.ICMPType)
		out.IcmpType = &v
	}
	if r.ICMPCode != nil {
		v := uint32(*r.ICMPCode)
		out.IcmpCode = &v
	}
	return out
}

func fromPBRule(r *pb.ACLRule) network.Rule {
	out := network.Rule{Name: r.GetName(), Network: r.GetNetwork(), VLAN: int(r.GetVlan()), InPort: r.GetInPort(),
		EthType: r.GetEthType(), Src: r.GetSrc(), Dst: r.GetDst(), Proto: r.GetProto(), SrcPort: r.GetSrcPort(),
		DstPort: r.GetDstPort(), Action: r.GetAction()}
	if r.IcmpType != nil {
		v := int(r.GetIcmpType())
		out.ICMPType = &v
	}
	if r.IcmpCode != nil {
		v := int(r.GetIcmpCode())
		out.ICMPCode = &v
	}
	return out
}
