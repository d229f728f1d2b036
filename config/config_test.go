package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "loom.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadOverridesDefaults(t *testing.T) {
	c, err := Load(write(t, "openflow:\n  listen: [\"unix:/tmp/x.sock\"]\n  echo_interval: 2s\napps:\n  l2:\n    max_macs: 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenFlow.Listen[0] != "unix:/tmp/x.sock" || time.Duration(c.OpenFlow.EchoInterval) != 2*time.Second || c.Apps.L2.MaxMACs != 10 {
		t.Fatalf("got %+v", c)
	}
	if time.Duration(c.OpenFlow.HelloTimeout) != 5*time.Second {
		t.Fatalf("hello_timeout default lost: %v", c.OpenFlow.HelloTimeout)
	}
}

func TestEmptyFileMeansDefaults(t *testing.T) {
	c, err := Load(write(t, ""))
	if err != nil || c.Apps.L2.MaxMACs != Default().Apps.L2.MaxMACs {
		t.Fatalf("got %+v, %v", c, err)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	for body, want := range map[string]string{
		"openflow:\n  listn: [x]\n":                    `line 2: unknown key "listn" (did you mean "listen"?)`,
		"netwroks: []\n":                               `line 1: unknown key "netwroks" (did you mean "networks"?)`,
		"apps:\n  l2:\n    colour: blue\n":             `line 3: unknown key "colour"; keys here: max_macs, move_holddown, spoof_hold`,
		"openflow:\n  echo_interval: fast\n":           "line 2: \"fast\" is not a duration",
		"openflow:\n  echo_interval: 1ms\n":            "openflow.echo_interval",
		"apps:\n  l2:\n    max_macs: 0\n":              "apps.l2.max_macs",
		"openflow:\n  listen: []\n":                    "openflow.listen",
		"apps:\n  l2:\n    max_macs: many\n":           "line 3",
		"openflow:\n  listen: [\"unix:\"]\n":           "openflow.listen[0]",
		"openflow:\n  hello_timeout: 2m\n":             "openflow.hello_timeout",
		"openflow:\n  listen: [\"ssl:\"]\n":            "openflow.listen[0]",
		"openflow:\n  tls:\n    client_certs: maybe\n": "line 3: openflow.tls.client_certs",
		"hypervisors:\n  - {name: kvm01, ovsdb: \"tcp:192.0.2.10:6640\", ovsdb_server_name: kvm01.example}\n": "hypervisors[0].ovsdb_server_name",
	} {
		_, err := Load(write(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want it to mention %q", body, err, want)
		}
	}
}

func TestFlowsAndStaticConfig(t *testing.T) {
	c, err := Load(write(t, "flows:\n  verify_interval: 1s\n  foreign: remove\napps:\n  static:\n    flows:\n      - switch: \"*\"\n        flow: \"table=1, priority=500,dl_dst=02:00:00:00:00:09 actions=drop\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	all, _, f, err := c.Apps.Static.Flows[0].Parse()
	if err != nil || !all || f.Priority != 500 || c.Flows.Foreign != "remove" || time.Duration(c.Flows.VerifyInterval) != time.Second {
		t.Fatalf("got %+v %v", c, err)
	}
	for body, want := range map[string]string{
		"flows:\n  foreign: maybe\n":       "flows.foreign",
		"flows:\n  verify_interval: 1ms\n": "flows.verify_interval",
		"apps:\n  static:\n    flows:\n      - switch: zz\n        flow: \"table=1 actions=drop\"\n":             "apps.static.flows[0]: switch",
		"apps:\n  static:\n    flows:\n      - switch: \"*\"\n        flow: \"table=1,nw_tos=4 actions=drop\"\n": "apps.static.flows[0]: flow",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want it to name %q", body, err, want)
		}
	}
}

func TestHypervisorsAndErrorLines(t *testing.T) {
	c, err := Load(write(t, "hypervisors:\n  - name: kvm01\n    ovsdb: tcp:192.0.2.10:6640\n    tunnel_ip: 192.0.2.10\n  - name: kvm02\n    ovsdb: unix:/var/run/openvswitch/db.sock\n"))
	if err != nil || len(c.Hypervisors) != 2 || c.Hypervisors[0].TunnelIP != "192.0.2.10" {
		t.Fatalf("got %+v, %v", c.Hypervisors, err)
	}
	for body, want := range map[string]string{
		"hypervisors:\n  - name: kvm01\n    ovsdb: tcp:nohost\n":                           "line 3: hypervisors[0].ovsdb",
		"hypervisors:\n  - name: a\n    ovsdb: unix:/x\n  - name: a\n    ovsdb: unix:/y\n": "line 4: hypervisors[1].name",
		"hypervisors:\n  - name: a b\n    ovsdb: unix:/x\n":                                "line 2: hypervisors[0].name",
		"hypervisors:\n  - name: a\n    ovsdb: unix:/x\n    tunnel_ip: 300.1.1.1\n":        "line 4: hypervisors[0].tunnel_ip",
		"flows:\n  foreign: maybe\n":                                                       "line 2: flows.foreign",
		"apps:\n  l2:\n    max_macs: 0\n":                                                  "line 3: apps.l2.max_macs",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
}

func TestOVSDBTLSErrorsNameTheField(t *testing.T) {
	for body, want := range map[string]string{
		"hypervisors:\n  - name: a\n    ovsdb: ssl:10.0.0.1:6640\n":      "hypervisors[0].ovsdb: an ssl: endpoint needs ovsdb_tls",
		"ovsdb_tls:\n  ca: /nonexistent/ca.pem\n":                        "ovsdb_tls: ca, cert and key are all required",
		"ovsdb_tls:\n  ca: /nonexistent/ca.pem\n  cert: /x\n  key: /y\n": "line 2: ovsdb_tls.ca",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config %q: error %v, want %q", body, err, want)
		}
	}
}

func TestOpenFlowTLSKeys(t *testing.T) {
	c, err := Load(write(t, "openflow:\n  listen: [\"ssl:0.0.0.0:6653\", \"unix:/tmp/x.sock\"]\n  tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem, peer_cn_is_hypervisor: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OpenFlow.HasSSL() || c.OpenFlow.TLS.Cert != "/c.pem" || c.OpenFlow.TLS.Key != "/k.pem" || c.OpenFlow.TLS.CA != "/ca.pem" || !c.OpenFlow.TLS.PeerCNIsHypervisor {
		t.Fatalf("got %+v", c.OpenFlow)
	}
	if Default().OpenFlow.HasSSL() {
		t.Fatal("the default listener is ssl:")
	}
}
