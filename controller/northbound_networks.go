package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// NotFoundError means the named object is not declared.
type NotFoundError struct {
	Kind, Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q is not declared", e.Kind, e.Name) }

// AlreadyExistsError means the name is taken, by the config file or by
// the API.
type AlreadyExistsError struct {
	Kind, Name, Source string
}

func (e *AlreadyExistsError) Error() string {
	where := "through the API"
	if e.Source == sourceFile {
		where = "in the config file"
	}
	return fmt.Sprintf("%s %q is already declared %s", e.Kind, e.Name, where)
}

// FailedPreconditionError means the request is well formed but the
// controller's state refuses it (a name the config file declares, a
// network still in use, no config file to reload).
type FailedPreconditionError struct {
	Reason string
}

func (e *FailedPreconditionError) Error() string { return e.Reason }

// ErrNoNetworks means the controller runs without a network policy.
var ErrNoNetworks = errors.New("this controller runs no network policy")

// Where a declaration comes from.
const (
	sourceFile = "file"
	sourceAPI  = "api"
)

// updateNetworks applies fn to the API's declarations; a validation error
// of the result is a *network.FieldError.
func (a *API) updateNetworks(fn func(api *network.Spec) error) error {
	if a.c.cfg.Networks == nil {
		return ErrNoNetworks
	}
	return a.c.UpdateAPINetworks(fn)
}

// fieldError turns a *network.FieldError into an InvalidArgumentError
// naming the same field; other errors pass through.
func fieldError(err error) error {
	var fe *network.FieldError
	if errors.As(err, &fe) {
		return &InvalidArgumentError{Field: fe.Path, Reason: fe.Err.Error()}
	}
	return err
}

// inUse turns the validation error a deletion causes (something else
// still refers to the deleted object) into FailedPrecondition.
func inUse(kind, name string, err error) error {
	var fe *network.FieldError
	if errors.As(err, &fe) {
		return &FailedPreconditionError{Reason: fmt.Sprintf("deleting %s %q would leave %s", kind, name, fe.Error())}
	}
	return err
}

// ListNetworks implements NetworkService: the file's networks, then the
// API's.
func (a *API) ListNetworks(ctx context.Context, _ *pb.ListNetworksRequest) (*pb.ListNetworksResponse, error) {
	file, api := a.c.NetworkSpecs()
	resp := &pb.ListNetworksResponse{}
	for _, n := range file.Networks {
		resp.Networks = append(resp.Networks, toPBNetwork(n, sourceFile))
	}
	for _, n := range api.Networks {
		resp.Networks = append(resp.Networks, toPBNetwork(n, sourceAPI))
	}
	return resp, nil
}

// AddNetwork implements NetworkService.
func (a *API) AddNetwork(ctx context.Context, req *pb.AddNetworkRequest) (*pb.AddNetworkResponse, error) {
	n := req.GetNetwork()
	if n == nil {
		return nil, &InvalidArgumentError{Field: "network", Reason: "required"}
	}
	if n.GetName() == "" {
		return nil, &InvalidArgumentError{Field: "network.name", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	for _, f := range file.Networks {
		if f.Name == n.GetName() {
			return nil, &AlreadyExistsError{Kind: "network", Name: f.Name, Source: sourceFile}
		}
	}
	err := a.updateNetworks(func(api *network.Spec) error {
		for _, x := range api.Networks {
			if x.Name == n.GetName() {
				return &AlreadyExistsError{Kind: "network", Name: x.Name, Source: sourceAPI}
			}
		}
		api.Networks = append(api.Networks, fromPBNetwork(n))
		return nil
	})
	if err != nil {
		return nil, fieldError(err)
	}
	return &pb.AddNetworkResponse{}, nil
}

// DeleteNetwork implements NetworkService.
func (a *API) DeleteNetwork(ctx context.Context, req *pb.DeleteNetworkRequest) (*pb.DeleteNetworkResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, &InvalidArgumentError{Field: "name", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	err := a.updateNetworks(func(api *network.Spec) error {
		for i, x := range api.Networks {
			if x.Name == name {
				api.Networks = append(api.Networks[:i], api.Networks[i+1:]...)
				return nil
			}
		}
		for _, f := range file.Networks {
			if f.Name == name {
				return fileDeclared("network", name)
			}
		}
		return &NotFoundError{Kind: "network", Name: name}
	})
	if err != nil {
		return nil, inUse("network", name, err)
	}
	return &pb.DeleteNetworkResponse{}, nil
}

func fileDeclared(kind, name string) error {
	return &FailedPreconditionError{Reason: fmt.Sprintf("%s %q is declared in the config file: change the file and reload", kind, name)}
}

// ListTrunks implements NetworkService.
func (a *API) ListTrunks(ctx context.Context, _ *pb.ListTrunksRequest) (*pb.ListTrunksResponse, error) {
	file, api := a.c.NetworkSpecs()
	resp := &pb.ListTrunksResponse{}
	for _, t := range file.Trunks {
		resp.Trunks = append(resp.Trunks, toPBTrunk(t, sourceFile))
	}
	for _, t := range api.Trunks {
		resp.Trunks = append(resp.Trunks, toPBTrunk(t, sourceAPI))
	}
	return resp, nil
}

// AddTrunk implements NetworkService. A trunk is named by its port (name
// or glob).
func (a *API) AddTrunk(ctx context.Context, req *pb.AddTrunkRequest) (*pb.AddTrunkResponse, error) {
	t := req.GetTrunk()
	if t == nil {
		return nil, &InvalidArgumentError{Field: "trunk", Reason: "required"}
	}
	if t.GetPort() == "" {
		return nil, &InvalidArgumentError{Field: "trunk.port", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	for _, f := range file.Trunks {
		if f.Port == t.GetPort() {
			return nil, &AlreadyExistsError{Kind: "trunk", Name: f.Port, Source: sourceFile}
		}
	}
	err := a.updateNetworks(func(api *network.Spec) error {
		for _, x := range api.Trunks {
			if x.Port == t.GetPort() {
				return &AlreadyExistsError{Kind: "trunk", Name: x.Port, Source: sourceAPI}
			}
		}
		api.Trunks = append(api.Trunks, fromPBTrunk(t))
		return nil
	})
	if err != nil {
		return nil, fieldError(err)
	}
	return &pb.AddTrunkResponse{}, nil
}

// DeleteTrunk implements NetworkService.
func (a *API) DeleteTrunk(ctx context.Context, req *pb.DeleteTrunkRequest) (*pb.DeleteTrunkResponse, error) {
	port := req.GetPort()
	if port == "" {
		return nil, &InvalidArgumentError{Field: "port", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	err := a.updateNetworks(func(api *network.Spec) error {
		for i, x := range api.Trunks {
			if x.Port == port {
				api.Trunks = append(api.Trunks[:i], api.Trunks[i+1:]...)
				return nil
			}
		}
		for _, f := range file.Trunks {
			if f.Port == port {
				return fileDeclared("trunk", port)
			}
		}
		return &NotFoundError{Kind: "trunk", Name: port}
	})
	if err != nil {
		return nil, inUse("trunk", port, err)
	}
	return &pb.DeleteTrunkResponse{}, nil
}

// ListACLs implements NetworkService: the rules in the order they apply
// (the file's, then the API's), with their counters from the app that
// enforces them (apps.RuleKeyer), when one runs.
func (a *API) ListACLs(ctx context.Context, _ *pb.ListACLsRequest) (*pb.ListACLsResponse, error) {
	file, api := a.c.NetworkSpecs()
	var counters map[string]Counters
	enforcer, ok := a.c.ruleKeyer()
	if ok {
		var err error
		if counters, err = a.c.KeyCounters(ctx, enforcer.Name()); err != nil {
			return nil, fmt.Errorf("ACL counters: %w", err)
		}
	}
	resp := &pb.ListACLsResponse{}
	add := func(r network.Rule, source string) {
		pr := toPBRule(r, source)
		if ok {
			n := counters[enforcer.(apps.RuleKeyer).RuleKey(r.Name)]
			pr.Packets, pr.Bytes = n.Packets, n.Bytes
		}
		resp.Rules = append(resp.Rules, pr)
	}
	for _, r := range file.ACLs {
		add(r, sourceFile)
	}
	for _, r := range api.ACLs {
		add(r, sourceAPI)
	}
	return resp, nil
}

// AddACL implements NetworkService: the rule applies after every rule
// already declared.
func (a *API) AddACL(ctx context.Context, req *pb.AddACLRequest) (*pb.AddACLResponse, error) {
	r := req.GetRule()
	if r == nil {
		return nil, &InvalidArgumentError{Field: "rule", Reason: "required"}
	}
	if r.GetName() == "" {
		return nil, &InvalidArgumentError{Field: "rule.name", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	for _, f := range file.ACLs {
		if f.Name == r.GetName() {
			return nil, &AlreadyExistsError{Kind: "ACL rule", Name: f.Name, Source: sourceFile}
		}
	}
	err := a.updateNetworks(func(api *network.Spec) error {
		for _, x := range api.ACLs {
			if x.Name == r.GetName() {
				return &AlreadyExistsError{Kind: "ACL rule", Name: x.Name, Source: sourceAPI}
			}
		}
		api.ACLs = append(api.ACLs, fromPBRule(r))
		return nil
	})
	if err != nil {
		return nil, fieldError(err)
	}
	return &pb.AddACLResponse{}, nil
}

// DeleteACL implements NetworkService.
func (a *API) DeleteACL(ctx context.Context, req *pb.DeleteACLRequest) (*pb.DeleteACLResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, &InvalidArgumentError{Field: "name", Reason: "required"}
	}
	file, _ := a.c.NetworkSpecs()
	err := a.updateNetworks(func(api *network.Spec) error {
		for i, x := range api.ACLs {
			if x.Name == name {
				api.ACLs = append(api.ACLs[:i], api.ACLs[i+1:]...)
				return nil
			}
		}
		for _, f := range file.ACLs {
			if f.Name == name {
				return fileDeclared("ACL rule", name)
			}
		}
		return &NotFoundError{Kind: "ACL rule", Name: name}
	})
	if err != nil {
		return nil, inUse("ACL rule", name, err)
	}
	return &pb.DeleteACLResponse{}, nil
}

// ErrBusy means loomd could not serve the request for want of a resource
// of its own (file descriptors); the request itself is fine: retry.
var ErrBusy = errors.New("loomd is out of resources, try again")

// outOfDescriptors says whether err is the process or system running out
// of file descriptors.
func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// Reload implements ControllerService: read the config file again and
// apply its networks, trunks and ACLs.
func (a *API) Reload(ctx context.Context, _ *pb.ReloadRequest) (*pb.ReloadResponse, error) {
	if err := a.c.ReloadConfig(); err != nil {
		if errors.Is(err, ErrNoConfigFile) {
			return nil, &FailedPreconditionError{Reason: err.Error()}
		}
		if outOfDescriptors(err) { // loomd's trouble, not the file's: try again
			return nil, fmt.Errorf("%w: reading the config file: %v", ErrBusy, err)
		}
		return nil, &FailedPreconditionError{Reason: "config file rejected, the running configuration stays in force: " + err.Error()}
	}
	return &pb.ReloadResponse{}, nil
}

// Plan implements ControllerService: what a config file's networks,
// trunks and ACLs would do to each connected switch's flows.
func (a *API) Plan(ctx context.Context, req *pb.PlanRequest) (*pb.PlanResponse, error) {
	cfg, err := config.Parse(req.GetConfig(), "plan")
	if err != nil {
		return nil, &InvalidArgumentError{Field: "config", Reason: strings.TrimPrefix(err.Error(), "config plan: ")}
	}
	plans, err := a.c.Plan(cfg.NetworkSpec())
	if err != nil {
		return nil, fieldError(err)
	}
	resp := &pb.PlanResponse{}
	for _, p := range plans {
		resp.Switches = append(resp.Switches, &pb.SwitchPlan{Dpid: p.DPID, Add: p.Add, Change: p.Change, Remove: p.Remove})
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
