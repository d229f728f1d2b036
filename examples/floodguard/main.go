// Command floodguard is an example of an external Loom app: it uses only
// Loom's gRPC API.
//
// It watches packet-ins and counts them per (switch, port, source MAC).
// A source that keeps sending frames the controller has to look at (a VM
// spraying MACs, or claiming another VM's MAC, which Loom's learning switch
// refuses frame by frame) is cut off at the switch: floodguard declares a
// drop flow for it in the external apps' cookie space. Loom reconciles that
// flow like any app's, keeps it across restarts, and floodguard can
// withdraw it with DeleteFlows.
//
//	floodguard --server 127.0.0.1:9652 --threshold 20 --window 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

func main() {
	server := flag.String("server", "127.0.0.1:9652", "loomd's gRPC address")
	threshold := flag.Int("threshold", 20, "packet-ins from one source within the window that trigger a drop flow")
	window := flag.Duration("window", 10*time.Second, "counting window")
	client := flag.String("client", "floodguard", "name this app's flows are filed under")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if tok := os.Getenv("LOOM_TOKEN"); tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	conn, err := grpc.NewClient(*server, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	// run returns only when the stream ends, always with an error: a
	// signal's cancelled context is the one that is not news.
	if err := run(ctx, pb.NewPacketServiceClient(conn), pb.NewFlowServiceClient(conn), *client, *threshold, *window); ctx.Err() == nil {
		log.Fatal(err)
	}
}

type source struct {
	dpid uint64
	port uint32
	mac  string
}

func run(ctx context.Context, packets pb.PacketServiceClient, flows pb.FlowServiceClient, client string, threshold int, window time.Duration) error {
	stream, err := packets.WatchPacketIns(ctx, &pb.WatchPacketInsRequest{})
	if err != nil {
		return err
	}
	log.Printf("watching packet-ins; a source with %d in %v gets a drop flow", threshold, window)
	counts := map[source]int{}
	blocked := map[source]bool{}
	reset := time.Now().Add(window)
	for {
		p, err := stream.Recv()
		if err != nil {
			return err
		}
		if time.Now().After(reset) {
			counts, reset = map[source]int{}, time.Now().Add(window)
		}
		if len(p.Data) < 14 {
			continue
		}
		src := source{p.Dpid, p.InPort, net.HardwareAddr(p.Data[6:12]).String()}
		counts[src]++
		if counts[src] < threshold || blocked[src] {
			continue
		}
		drop := fmt.Sprintf("table=0, priority=2000,in_port=%d,dl_src=%s actions=drop", src.port, src.mac)
		_, err = flows.SetFlows(ctx, &pb.SetFlowsRequest{Client: client, Dpid: src.dpid,
			Key: fmt.Sprintf("drop/%d/%s", src.port, src.mac), Flows: []string{drop}})
		if err != nil {
			log.Printf("declaring %q on 0x%016x: %v", drop, src.dpid, err)
			continue
		}
		blocked[src] = true
		log.Printf("0x%016x: %s on port %d sent %d packet-ins in %v: declared %q", src.dpid, src.mac, src.port, counts[src], window, drop)
	}
}
