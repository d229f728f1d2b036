package northbound

import (
	"context"
	"path"
	"slices"
	"strings"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

// GetVM implements TopologyService: every port of the VM named by its
// libvirt iface-id, VM uuid or MAC (case-insensitive), with its place,
// network, IPs, the ACL rules that apply to it and the flows naming it.
func (a *API) GetVM(ctx context.Context, req *pb.GetVMRequest) (*pb.GetVMResponse, error) {
	want := strings.TrimSpace(req.GetVm())
	if want == "" {
		return nil, &controller.InvalidArgumentError{Field: "vm", Reason: "required: an iface-id, a VM uuid or a MAC"}
	}
	top, err := a.topology()
	if err != nil {
		return nil, err
	}
	s := top.Snapshot()
	where := map[uint64]topology.Switch{}
	for _, sw := range s.Switches {
		where[sw.DPID] = sw
	}
	pol := a.currentPolicy()
	resp := &pb.GetVMResponse{}
	for _, p := range s.Ports {
		if p.VM == nil || !isVM(p.VM, want) {
			continue
		}
		pp := toPort(p)
		withMode(pp, pol, p)
		vp := &pb.VMPort{Port: pp, Hypervisor: where[p.DPID].Hypervisor, Bridge: where[p.DPID].Bridge,
			Ips: hostIPs(s.Hosts, p.VM.MAC), AclRules: rulesFor(pol, p, pp), Flows: a.flowsNaming(p)}
		resp.Ports = append(resp.Ports, vp)
	}
	if len(resp.Ports) == 0 {
		return nil, &controller.NotFoundError{Kind: "VM", Name: want, Why: "is on no port Loom knows (by iface-id, VM uuid or MAC)"}
	}
	return resp, nil
}

// isVM says whether vm is the one named want.
func isVM(vm *topology.VM, want string) bool {
	return vm.IfaceID == want || vm.UUID == want || vm.MAC != "" && strings.EqualFold(vm.MAC, want)
}

// hostIPs are the IPs seen from mac.
func hostIPs(hosts []topology.Host, mac string) []string {
	for _, h := range hosts {
		if strings.EqualFold(h.MAC, mac) {
			return slices.Clone(h.IPs)
		}
	}
	return nil
}

// rulesFor names the ACL rules that apply to traffic of port p: those of
// a VLAN it carries, without an in_port or with one matching its name.
func rulesFor(pol *network.Policy, p topology.Port, pp *pb.Port) []string {
	if pol == nil {
		return nil
	}
	vlans := slices.Clone(pp.GetTaggedVlans())
	if pp.GetVlan() != 0 {
		vlans = append(vlans, pp.GetVlan())
	}
	var out []string
	for _, r := range pol.Rules() {
		if !slices.Contains(vlans, uint32(r.VLAN)) {
			continue
		}
		if r.InPort != "" {
			if ok, _ := path.Match(r.InPort, p.Name); !ok {
				continue
			}
		}
		out = append(out, r.Name)
	}
	return out
}

// flowsNaming counts the desired flows on p's switch that match its port
// or its VM's MAC.
func (a *API) flowsNaming(p topology.Port) uint32 {
	mac, err := flow.ParseMAC(p.VM.MAC)
	n := uint32(0)
	for _, c := range a.rt.Declared(p.DPID) {
		m := c.Flow.Match
		if in, ok := m.InPortValue(); ok && in == p.No {
			n++
			continue
		}
		src, hasSrc := m.EthSrcValue()
		dst, hasDst := m.EthDstValue()
		if err == nil && (hasSrc && src == mac || hasDst && dst == mac) {
			n++
		}
	}
	return n
}
