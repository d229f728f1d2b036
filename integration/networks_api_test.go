package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Networks and ACL rules added through the API apply live, a bad rule is
// refused naming its field, a plan changes nothing, and what the API
// declared survives a restart (it lives in bbolt).
func TestAPINetworksApplyLivePlanAndSurviveRestart(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	l := connectLoom(t, lab, br, vm1, vm2)
	conn, ctx := l.api(t)
	nets := pb.NewNetworkServiceClient(conn)

	// A plan of what runs changes nothing, and says so: it used to list
	// the table-miss flows as removals, which no reload makes.
	same, err := pb.NewControllerServiceClient(conn).Plan(ctx, &pb.PlanRequest{Config: []byte("{}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Switches) != 1 || len(same.Switches[0].Add)+len(same.Switches[0].Change)+len(same.Switches[0].Remove) != 0 {
		t.Fatalf("the plan of the running (empty) policy is not empty: %v", same)
	}

	// A plan puts centos01 in its own network: listed, not applied.
	before := flowTable(t, br)
	planFile := writeConfig(t, lab, "plan.yaml", "networks:\n  - {name: blue, vlan: 10, ports: [p-centos01]}\n")
	plan, err := pb.NewControllerServiceClient(conn).Plan(ctx, &pb.PlanRequest{Config: []byte("networks:\n  - {name: blue, vlan: 10, ports: [p-centos01]}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Switches) != 1 || len(plan.Switches[0].Add)+len(plan.Switches[0].Change) == 0 {
		t.Fatalf("the plan shows no change: %v", plan)
	}
	out, err := exec.Command(loomdBin, "--check-config", planFile, "--grpc-listen", logAddr(t, l.proc.Log(), reGRPCAddr)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid") || !strings.Contains(string(out), fmt.Sprintf("switch 0x%016x: +", br.DPID)) {
		t.Fatalf("loomd --check-config: %v\n%s", err, out)
	}
	if after := flowTable(t, br); !sameFlows(before, after) {
		t.Fatal("a plan changed the switch")
	}
	if !vm1.CanPing(vm2.IP) {
		t.Fatal("a plan cut traffic")
	}

	if _, err := nets.AddNetwork(ctx, &pb.AddNetworkRequest{Network: &pb.Network{Name: "blue", Vlan: 10, Ports: []string{vm1.Port}}}); err != nil {
		t.Fatal(err)
	}
	if vm1.CanPing(vm2.IP) {
		t.Fatal("centos01 still reaches centos02 from another network")
	}
	_, err = nets.AddACL(ctx, &pb.AddACLRequest{Rule: &pb.ACLRule{Name: "web", Network: "blue", Proto: "tcp", DstPort: "70000", Action: "allow"}})
	if err == nil || !strings.Contains(err.Error(), "dst_port") {
		t.Fatalf("a bad rule: %v", err)
	}

	l.proc.Stop()
	l.start(t)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	conn, ctx = l.api(t)
	list, err := pb.NewNetworkServiceClient(conn).ListNetworks(ctx, &pb.ListNetworksRequest{})
	if err != nil || len(list.Networks) != 1 || list.Networks[0].Name != "blue" || list.Networks[0].Source != "api" {
		t.Fatalf("after a restart: %v %v", list, err)
	}
	waitFor(t, "blue's classification back", 10*time.Second, func() bool {
		lines, _ := br.DumpFlows()
		return containsLine(lines, fmt.Sprintf("in_port=%d,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4106->vlan_vid", ofport(t, hv, vm1.Port)))
	})
	if vm1.CanPing(vm2.IP) {
		t.Fatal("after a restart centos01 reaches centos02 again")
	}
}
