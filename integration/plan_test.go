package integration

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// installedText is every flow the switch holds, in Loom's text form.
func installedText(t *testing.T, ctx context.Context, conn *grpc.ClientConn, dpid uint64) map[string]bool {
	t.Helper()
	r, err := pb.NewFlowServiceClient(conn).ListFlows(ctx, &pb.ListFlowsRequest{Dpid: dpid, Installed: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range r.Flows {
		out[f.Text] = true
	}
	return out
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// A plan is exactly what applying it does: the flows a reload of the
// planned file adds and removes on the real switch are the plan's adds
// and removes (a change is a remove of its old flow and an add of its
// new one), nothing more, nothing less.
func TestPlanIsWhatTheReloadDoes(t *testing.T) {
	t.Parallel()
	lab, _, br, vm1, vm2 := oneBridgeTwoVMs(t)
	running := "tunnels: {type: none}\nnetworks:\n" +
		"  - {name: web, vlan: 10, ports: [" + vm1.Port + "]}\n" +
		"  - {name: db, vlan: 20, ports: [" + vm2.Port + "], default: deny}\n" +
		"acls:\n" +
		"  - {name: web-http, network: web, proto: tcp, dst_port: \"80\", action: allow}\n" +
		"  - {name: db-ping, network: db, proto: icmp, action: allow}\n"
	next := "tunnels: {type: none}\nnetworks:\n" +
		"  - {name: web, vlan: 10, ports: [" + vm1.Port + ", " + vm2.Port + "]}\n" +
		"acls:\n" +
		"  - {name: web-http, network: web, proto: tcp, dst_port: \"8080\", action: allow}\n" +
		"  - {name: web-ssh, network: web, proto: tcp, dst_port: \"22\", action: deny}\n"
	path := writeConfig(t, lab, "loom.yaml", running)
	l := attachLoom(t, lab, br, "--config", path)
	conn, ctx := l.api(t)
	cc := pb.NewControllerServiceClient(conn)
	settled := func() bool {
		d, err := pb.NewFlowServiceClient(conn).DiffFlows(ctx, &pb.DiffFlowsRequest{Dpid: br.DPID})
		return err == nil && len(d.Changes) == 0
	}
	waitFor(t, "the running file applied", 10*time.Second, settled)
	before := installedText(t, ctx, conn, br.DPID)

	plan, err := cc.Plan(ctx, &pb.PlanRequest{Config: []byte(next)})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Switches) != 1 {
		t.Fatalf("plan: %v", plan)
	}
	sp := plan.Switches[0]
	var wantAdd, wantRemove []string
	wantAdd = append(wantAdd, sp.Add...)
	wantRemove = append(wantRemove, sp.Remove...)
	for _, c := range sp.Change {
		old, neu, ok := strings.Cut(c, " => ")
		if !ok {
			t.Fatalf("a change without =>: %q", c)
		}
		wantRemove, wantAdd = append(wantRemove, old), append(wantAdd, neu)
	}
	sort.Strings(wantAdd)
	sort.Strings(wantRemove)
	if len(wantAdd) == 0 || len(wantRemove) == 0 {
		t.Fatalf("the plan has nothing to check: %v", sp)
	}
	if strings.Join(plan.NetworksRemoved, ",") != "db" || len(plan.Warnings) == 0 || !strings.Contains(strings.Join(plan.Warnings, "\n"), `network "db"`) {
		t.Fatalf("plan networks %v, warnings %v: want db removed, and said", plan.NetworksRemoved, plan.Warnings)
	}

	if err := os.WriteFile(path, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Reload(ctx, &pb.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload applied", 10*time.Second, settled)
	after := installedText(t, ctx, conn, br.DPID)

	added, removed := minus(after, before), minus(before, after)
	if strings.Join(added, "\n") != strings.Join(wantAdd, "\n") {
		t.Errorf("the reload added:\n%s\nthe plan said:\n%s", strings.Join(added, "\n"), strings.Join(wantAdd, "\n"))
	}
	if strings.Join(removed, "\n") != strings.Join(wantRemove, "\n") {
		t.Errorf("the reload removed:\n%s\nthe plan said:\n%s", strings.Join(removed, "\n"), strings.Join(wantRemove, "\n"))
	}
	again, err := cc.Plan(ctx, &pb.PlanRequest{Config: []byte(next)})
	if err != nil || len(again.Switches[0].Add)+len(again.Switches[0].Change)+len(again.Switches[0].Remove) != 0 {
		t.Fatalf("a plan of the file now running: %v, %v; want no change", again, err)
	}

	// The event stream says what happened, by name.
	stream, err := cc.WatchEvents(ctx, &pb.WatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		e, err := stream.Recv()
		if err != nil {
			break // the history ends the stream (no follow)
		}
		lines = append(lines, e.Kind+" "+e.Subject+": "+e.Message)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"switch 0x00000000000000c1: connected from",
		"policy config file: applied: 1 networks, 2 ACL rules, networks -db, rules +web-ssh -db-ping; flow-mods: 0x00000000000000c1 "} {
		if !strings.Contains(all, want) {
			t.Errorf("events lack %q:\n%s", want, all)
		}
	}
}
