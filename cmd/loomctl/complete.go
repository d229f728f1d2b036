package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// Shell completion of names from the running loomd (`loomctl completion
// bash|zsh|fish`): switches (bridge, hypervisor/bridge, dpid), networks,
// ports, VMs, and what the API declared, for the commands and flags that
// take them. A loomd that does not answer completes nothing.

// lister names what a running loomd has of one kind.
type lister func(ctx context.Context, conn *grpc.ClientConn) ([]string, error)

// flagCompletions are completed on every command that has the flag.
var flagCompletions = map[string]lister{
	"switch":  switchNames,
	"network": networkNames(false),
	"port":    portNames,
}

// argCompletions complete a command's arguments, by command path.
var argCompletions = map[string]lister{
	"loomctl net del":       networkNames(true),
	"loomctl trunk del":     trunkNames,
	"loomctl acl del":       ruleNames,
	"loomctl get vm":        vmNames,
	"loomctl forget switch": switchNames,
}

// withCompletion registers the completions on c and its subcommands.
func withCompletion(c *cobra.Command, o *options) {
	for flag, l := range flagCompletions {
		if c.Flags().Lookup(flag) != nil {
			_ = c.RegisterFlagCompletionFunc(flag, o.complete(l))
		}
	}
	if l, ok := argCompletions[c.CommandPath()]; ok {
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return o.complete(l)(cmd, args, toComplete)
		}
	}
	for _, sub := range c.Commands() {
		withCompletion(sub, o)
	}
}

// complete asks loomd through l for the names starting with toComplete.
func (o *options) complete(l lister) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		var names []string
		if err := o.call(func(ctx context.Context, conn *grpc.ClientConn) (err error) {
			names, err = l(ctx, conn)
			return err
		}); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func switchNames(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	r, err := pb.NewTopologyServiceClient(conn).ListSwitches(ctx, &pb.ListSwitchesRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range r.Switches {
		out = append(out, fmt.Sprintf("0x%x", s.Dpid))
		if s.Bridge != "" {
			out = append(out, s.Bridge)
			if s.Hypervisor != "" {
				out = append(out, s.Hypervisor+"/"+s.Bridge)
			}
		}
	}
	return out, nil
}

// networkNames lists the networks (only the API's, for what may be deleted).
func networkNames(apiOnly bool) lister {
	return func(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
		r, err := pb.NewNetworkServiceClient(conn).ListNetworks(ctx, &pb.ListNetworksRequest{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range r.Networks {
			if !apiOnly || n.Source == "api" {
				out = append(out, n.Name)
			}
		}
		return out, nil
	}
}

func trunkNames(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	r, err := pb.NewNetworkServiceClient(conn).ListTrunks(ctx, &pb.ListTrunksRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range r.Trunks {
		if t.Source == "api" {
			out = append(out, t.Port)
		}
	}
	return out, nil
}

func ruleNames(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	r, err := pb.NewNetworkServiceClient(conn).ListACLs(ctx, &pb.ListACLsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rule := range r.Rules {
		if rule.Source == "api" {
			out = append(out, rule.Name)
		}
	}
	return out, nil
}

func portNames(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	r, err := pb.NewTopologyServiceClient(conn).ListPorts(ctx, &pb.ListPortsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range r.Ports {
		out = append(out, p.Name)
	}
	return out, nil
}

func vmNames(ctx context.Context, conn *grpc.ClientConn) ([]string, error) {
	r, err := pb.NewTopologyServiceClient(conn).ListPorts(ctx, &pb.ListPortsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range r.Ports {
		if p.Vm == nil {
			continue
		}
		for _, n := range []string{p.Vm.IfaceId, p.Vm.Uuid, p.Vm.Mac} {
			if n != "" {
				out = append(out, n)
			}
		}
	}
	return out, nil
}
