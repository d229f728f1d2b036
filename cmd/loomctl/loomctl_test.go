package main

import (
	"bytes"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/api"
	"github.com/loomsdn/loom/controller/northbound"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// server runs loomd's API over a fixed topology and returns its address.
func server(t *testing.T) string {
	t.Helper()
	log, _ := test.NewNullLogger()
	top := topology.New()
	top.SetHypervisors([]topology.Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640", TunnelIP: "192.0.2.10"}})
	top.SwitchConnected(0xa1, "192.0.2.10:40001", []topology.OFPort{{No: 1, Name: "eth0", MAC: "02:00:00:00:01:01", Up: true}, {No: 2, Name: "patch-01-02", Up: true},
		{No: 3, Name: "vxlan-kvm02", Up: true}})
	top.SwitchConnected(0xc1, "192.0.2.10:40002", []topology.OFPort{{No: 1, Name: "centos01_port1", MAC: "fe:54:00:aa:bb:01", Up: true}, {No: 2, Name: "patch-02-01", Up: true}})
	top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", &ovsdb.Hypervisor{SystemID: "sys-kvm01", Bridges: []ovsdb.Bridge{
		{Name: "vswitch01", DPID: 0xa1, Ports: []ovsdb.Port{{Name: "eth0"}, {Name: "patch-01-02", Type: "patch", PatchPeer: "patch-02-01"},
			{Name: "vxlan-kvm02", Type: "vxlan", RemoteIP: "192.0.2.20", Key: "flow"}}},
		{Name: "vswitch02", DPID: 0xc1, Ports: []ovsdb.Port{{Name: "centos01_port1", AttachedMAC: "52:54:00:aa:bb:01", VMUUID: "vm-centos01"},
			{Name: "patch-02-01", Type: "patch", PatchPeer: "patch-01-02"}}}}}, nil)
	top.SetLink(topology.NewLink(topology.Endpoint{DPID: 0xa1, Port: 2}, topology.Endpoint{DPID: 0xc1, Port: 2}), true)
	top.HostSeen("52:54:00:aa:bb:01", 0xc1, 1, "172.16.123.101", time.Unix(1_800_000_000, 0))
	fixed := time.Unix(1_800_000_000, 0)
	// l2's tables, so API clients' flows have a pipeline to go in.
	ctl, err := controller.New(controller.Config{Log: log, Topology: top, Now: func() time.Time { return fixed }}, l2.New(l2.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	// centos01's port is in web; the uplink trunks web and db.
	pol := policy.New(ctl, policy.Options{Policy: network.NewHolder(nil), File: network.Spec{
		Networks: []network.Network{{Name: "web", VLAN: 10, Ports: []string{"centos01_*"}}, {Name: "db", VLAN: 20}},
		Trunks:   []network.Trunk{{Port: "eth0", VLANs: []int{10, 20}}},
		ACLs: []network.Rule{{Name: "web-http", Network: "web", Proto: "tcp", DstPort: "80", Action: "allow"},
			{Name: "db-only", Network: "db", Action: "deny"}}}})
	if err := pol.Restore(); err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, ctl, pol)
}

// serveAPI serves ctl's gRPC API (with the network policy pol, if any)
// on a loopback port for the test and returns its address.
func serveAPI(t *testing.T, ctl *controller.Controller, pol *policy.Service) string {
	t.Helper()
	srv := api.NewServer(northbound.New(ctl, pol, "v-test"), api.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestGoldenOutput(t *testing.T) {
	addr := server(t)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"switches.table", []string{"get", "switches"}},
		{"ports.table", []string{"get", "ports"}},
		{"ports-c1.table", []string{"get", "ports", "--switch", "0xc1"}},
		{"status.json", []string{"status", "-o", "json"}},                           // times in RFC 3339, zero counters kept
		{"hosts.json", []string{"get", "hosts", "-o", "json"}},                      // a host's last-seen time
		{"ports-c1.table", []string{"get", "ports", "--switch", "vswitch02"}},       // by bridge name
		{"ports-c1.table", []string{"get", "ports", "--switch", "kvm01/vswitch02"}}, // by hypervisor/bridge
		{"links.table", []string{"get", "links"}},
		{"hosts.table", []string{"get", "hosts"}},
		{"hypervisors.table", []string{"get", "hypervisors"}},
		{"tunnels.table", []string{"get", "tunnels"}},
		{"switches.json", []string{"get", "switches", "-o", "json"}},
		{"ports.yaml", []string{"get", "ports", "-o", "yaml"}},
		{"status.table", []string{"status"}},
		{"topology.dot", []string{"topology", "--format", "dot"}},
		{"vm.table", []string{"get", "vm", "52:54:00:AA:BB:01"}}, // by MAC, any case
		{"vm.json", []string{"get", "vm", "vm-centos01", "-o", "json"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := run(t, append(c.args, "--server", addr)...)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden+".golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("loomctl %s:\n%s\nwant:\n%s", strings.Join(c.args, " "), got, want)
			}
		})
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	addr := server(t)
	for args, want := range map[string]string{
		"get ports --switch 0xdead":               "InvalidArgument: dpid: no switch 0x000000000000dead",
		"get ports --switch vswitch09":            `--switch: switch "vswitch09": no switch has that datapath id, bridge or hypervisor/bridge`,
		"flows --switch 0xdead":                   "InvalidArgument: dpid: no switch 0x000000000000dead is connected, known or has flows",
		"flows --switch kvm01/vswitch02 --app l3": `InvalidArgument: app: no app "l3" (apps: external, l2)`,
		"get switches -o xml":                     "--output: \"xml\" is not table, json or yaml",
		"get bridges":                             "get \"bridges\" what?",
		"topology --format svg":                   "--format: \"svg\" is not supported",
	} {
		_, err := run(t, append(strings.Fields(args), "--server", addr)...)
		if err == nil || !strings.Contains(oneLine(err), want) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("loomctl %s: error %v, want one line containing %q", args, err, want)
		}
	}
	// A server that is not there.
	if _, err := run(t, "status", "--server", "127.0.0.1:1", "--timeout", "2s"); err == nil || !strings.HasPrefix(oneLine(err), "Unavailable") {
		t.Errorf("unreachable server: %v", err)
	}
}

// loomctl version says both sides, and an unreachable server in a line,
// not an error.
func TestVersionShowsClientAndServer(t *testing.T) {
	addr := server(t)
	out, err := run(t, "version", "--server", addr)
	if err != nil || !strings.Contains(out, "client: dev") || !strings.Contains(out, "server: v-test") {
		t.Fatalf("version: %q, %v", out, err)
	}
	out, err = run(t, "version", "--server", "127.0.0.1:1", "--timeout", "1s")
	if err != nil || !strings.Contains(out, "server: not reached: ") {
		t.Fatalf("version without a server: %q, %v", out, err)
	}
}

// --server without a port means loomd's 9652, not gRPC's 443.
func TestServerAddressDefaultsToLoomsPort(t *testing.T) {
	for in, want := range map[string]string{
		"localhost":       "localhost:9652",
		"10.0.0.5":        "10.0.0.5:9652",
		"[fd00::5]":       "[fd00::5]:9652",
		"fd00::5":         "[fd00::5]:9652",
		"loom.example:99": "loom.example:99",
		"127.0.0.1:9652":  "127.0.0.1:9652",
	} {
		if got := serverAddr(in); got != want {
			t.Errorf("serverAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// A server that does not answer is explained: what was tried, what to
// check.
func TestDialFailureSaysWhatWasTried(t *testing.T) {
	_, err := run(t, "status", "--server", "127.0.0.1:1", "--timeout", "2s")
	if got := explain(err, "127.0.0.1:1"); !strings.Contains(got, "tried 127.0.0.1:1") || !strings.Contains(got, "--grpc-listen") {
		t.Fatalf("unreachable server explained as %q", got)
	}
}

// --token-file gives the token; an empty file is an error naming it.
func TestTokenFile(t *testing.T) {
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log, Topology: topology.New()})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(northbound.New(ctl, nil, "v-test"), api.Options{Token: "s3cret"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	dir := t.TempDir()
	good, empty := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := run(t, "status", "--server", l.Addr().String(), "--token-file", good); err != nil {
		t.Fatalf("with --token-file: %v", err)
	}
	if _, err := run(t, "status", "--server", l.Addr().String()); err == nil || !strings.Contains(oneLine(err), "Unauthenticated") {
		t.Fatalf("without a token: %v, want Unauthenticated", err)
	}
	if _, err := run(t, "status", "--server", l.Addr().String(), "--token-file", empty); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("an empty token file: %v", err)
	}
}

// A VM no port has is NotFound, naming what was looked for.
func TestGetVMUnknown(t *testing.T) {
	addr := server(t)
	_, err := run(t, "get", "vm", "nosuch", "--server", addr)
	if err == nil || !strings.Contains(err.Error(), `VM "nosuch" is on no port Loom knows`) {
		t.Fatalf("get vm nosuch: %v", err)
	}
	if _, err := run(t, "get", "vm", "--server", addr); err == nil {
		t.Fatal("get vm without a name succeeded")
	}
}
