package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/internal/plantext"
	"github.com/loomsdn/loom/network"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	"github.com/loomsdn/loom/topology"
)

// checkAppSections checks the sections apps read themselves (by the
// apps, as loomd's start does), for --check-config and a reload: a file
// loomd would refuse at start is refused by both.
func checkAppSections(cfg config.Config, path string) error {
	if _, err := pipelineApps(cfg, topology.New(), network.NewHolder(nil)); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// checkConfigFile validates a config file and, when a loomd answers at
// apiAddr (plain gRPC, token from LOOM_TOKEN), prints what the file's
// networks, trunks and ACLs would change on its switches, touching none.
func checkConfigFile(path, apiAddr string, out io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if err := checkAppSections(cfg, path); err != nil {
		return err
	}
	fmt.Fprintf(out, "config %s: valid (%d networks, %d trunks, %d ACL rules)\n", path, len(cfg.Networks), len(cfg.Trunks), len(cfg.ACLs))
	data, err := os.ReadFile(path)
	if err != nil || apiAddr == "" {
		return err
	}
	conn, err := grpc.NewClient(apiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if tok := os.Getenv("LOOM_TOKEN"); tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	plan, err := pb.NewControllerServiceClient(conn).Plan(ctx, &pb.PlanRequest{Config: data})
	if err != nil {
		fmt.Fprintf(out, "no plan: no loomd answered at %s (%v)\n", apiAddr, err)
		return nil
	}
	plantext.Write(out, plan)
	return nil
}
