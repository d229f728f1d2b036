package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/network"
)

// networkServer runs loomd's API with networks, a trunk and ACL rules
// declared by its config file, and returns its address.
func networkServer(t *testing.T) string {
	t.Helper()
	log, _ := test.NewNullLogger()
	five := 5
	file := network.Spec{
		Networks: []network.Network{
			{Name: "web", VLAN: 10, VNI: 1010, Ports: []string{"web-*", "centos01_port1"}},
			{Name: "db", VLAN: 20, IfaceIDs: []string{"iface-db1"}, Default: "deny", Stateful: true},
		},
		Trunks: []network.Trunk{{Port: "uplink", VLANs: []int{20}, Native: 10}},
		ACLs: []network.Rule{
			{Name: "web-http", Network: "web", Proto: "tcp", DstPort: "8080", Src: "10.0.0.0/24", Action: "allow"},
			{Name: "db-unreach", VLAN: 20, Proto: "icmp", ICMPType: &five, Action: "deny"},
		},
	}
	ctl, err := controller.New(controller.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	pol := policy.New(ctl, policy.Options{Policy: network.NewHolder(nil), File: file})
	if err := pol.Restore(); err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, ctl, pol)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestNetworkCommands(t *testing.T) {
	addr := networkServer(t)
	for _, args := range []string{
		"net add app --vlan 30 --vni 1030 --port app-* --vm-id vm-app1 --default deny --stateful",
		"trunk add bond0 --vlans 20,30",
		"acl add app-ssh --network app --action allow --proto tcp --dst-port 22 --src 192.0.2.0/24 --in-port app-*",
		"acl add app-arp --vlan 30 --action allow --eth-type arp",
		"acl add app-deny --network app --action deny",
	} {
		if _, err := run(t, append(strings.Fields(args), "--server", addr)...); err != nil {
			t.Fatalf("loomctl %s: %v", args, oneLine(err))
		}
	}
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"net-list.table", []string{"net", "list"}},
		{"trunk-list.table", []string{"trunk", "list"}},
		{"acl-list.table", []string{"acl", "list"}},
		{"acl-list.yaml", []string{"acl", "list", "-o", "yaml"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := run(t, append(c.args, "--server", addr)...)
			if err != nil {
				t.Fatal(oneLine(err))
			}
			golden(t, c.golden, got)
		})
	}

	// Deleting what the API added works; the listing is back to the file's.
	for _, args := range []string{"acl del app-ssh", "acl del app-arp", "acl del app-deny", "trunk del bond0", "net del app"} {
		out, err := run(t, append(strings.Fields(args), "--server", addr)...)
		if err != nil || !strings.Contains(out, "deleted") {
			t.Fatalf("loomctl %s: %q, %v", args, out, err)
		}
	}
	out, err := run(t, "net", "list", "--server", addr)
	if err != nil || strings.Contains(out, "app") {
		t.Fatalf("net list after deletes: %q, %v", out, err)
	}
}

func TestNetworkErrorsAreOneLine(t *testing.T) {
	addr := networkServer(t)
	for args, want := range map[string]string{
		"net del web":           `FailedPrecondition: network "web" is declared in the config file`,
		"net del nosuch":        `NotFound: network "nosuch" is not declared`,
		"net add web --vlan 40": `AlreadyExists: network "web" is already declared in the config file`,
		"net add x --vlan 4095": `InvalidArgument: networks[2].vlan: network "x": 4095 is not a VLAN id (1-4094)`,
		"net add x":             `required flag(s) "vlan" not set`,
		"acl add x --network web --action allow --proto tcp --dst-port 70000": `InvalidArgument: acls[2].dst_port: rule "x": "70000": ports are 1-65535`,
		"acl add x --network web --action allow --src 10.0.0.0/33":            `InvalidArgument: acls[2].src: rule "x": `,
		"acl add x --vlan 99 --action deny":                                   `InvalidArgument: acls[2].vlan: rule "x": VLAN 99 is not any network's (unknown VLAN)`,
		"acl add x --action deny":                                             `at least one of the flags in the group [network vlan] is required`,
		"acl del web-http":                                                    `FailedPrecondition: ACL rule "web-http" is declared in the config file`,
		"trunk add bond0 --vlans 10,77":                                       `InvalidArgument: trunks[1].vlans[1]: trunk "bond0": VLAN 77 is not any network's (unknown VLAN)`,
		"reload":                                                              `FailedPrecondition: loomd runs without a config file`,
		"plan testdata/nosuch.yaml":                                           `no such file or directory`,
	} {
		_, err := run(t, append(strings.Fields(args), "--server", addr)...)
		if err == nil || !strings.Contains(oneLine(err), want) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("loomctl %s: error %v, want one line containing %q", args, err, want)
		}
	}
}

func TestPlan(t *testing.T) {
	addr := networkServer(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("networks:\n  - name: web\n    vlan: 10\n"), 0o644)
	out, err := run(t, "plan", good, "--server", addr)
	// The file drops db: said loudly, though no switch is there to change.
	want := "warning: network \"db\" (VLAN 20) goes: its ports fall back to their OVSDB tag or the default segment\nnetworks: -db\nno changes\n"
	if err != nil || out != want {
		t.Fatalf("plan with no switch connected: %q, %v", out, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("networks:\n  - name: web\n    vlan: 10\nacls:\n  - name: x\n    network: web\n    proto: tcp\n    dst_port: \"70000\"\n    action: allow\n"), 0o644)
	_, err = run(t, "plan", bad, "--server", addr)
	if err == nil || !strings.HasPrefix(oneLine(err), "InvalidArgument: config: line 8: acls[0].dst_port:") {
		t.Fatalf("plan of a bad file: %v", err)
	}
}

// A policy change is an event, naming what it added.
func TestEventsShowPolicyChanges(t *testing.T) {
	addr := networkServer(t)
	if _, err := run(t, "net", "add", "db2", "--vlan", "30", "--server", addr); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "events", "--server", addr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "policy        api: applied: ") || !strings.Contains(out, "networks +db2") {
		t.Fatalf("events:\n%s", out)
	}
	js, err := run(t, "events", "--since", "1h", "-o", "json", "--server", addr)
	if err != nil || !strings.Contains(js, `"kind": "policy"`) || !strings.Contains(js, `"subject": "api"`) {
		t.Fatalf("events -o json: %v\n%s", err, js)
	}
}
