package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// flows lists every switch's flows by default, with a SWITCH column, and
// selects by network and port.
func TestFlowsAcrossSwitchesAndFilters(t *testing.T) {
	addr := server(t)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for dpid, flows := range map[uint64][]string{
		0xc1: {"table=0, priority=100,in_port=1,dl_vlan=10 actions=drop", "table=0, priority=90,in_port=2 actions=drop"},
		0xa1: {"table=0, priority=100,dl_vlan=20 actions=drop"},
	} {
		if _, err := pb.NewFlowServiceClient(conn).SetFlows(ctx, &pb.SetFlowsRequest{Client: "t", Key: "k", Dpid: dpid, Flows: flows}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ golden, args string }{
		{"flows-all.table", "flows"},
		{"flows-web.table", "flows --network web"},
		{"flows-port.table", "flows --switch kvm01/vswitch02 --port centos01_port1"},
	} {
		got, err := run(t, append(strings.Fields(c.args), "--server", addr)...)
		if err != nil {
			t.Fatalf("%s: %v", c.args, err)
		}
		golden(t, c.golden, got)
	}
	for args, want := range map[string]string{
		"flows --network nosuch": `network: no network "nosuch" (networks: web, db)`,
		"flows --port nosuch":    `port: no port "nosuch" on the switches asked for`,
		"flows --diff":           "--switch: required with --diff and --errors",
	} {
		if _, err := run(t, append(strings.Fields(args), "--server", addr)...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
