package sflow

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// section parses a whole config file and returns the app's section, as
// loomd hands it over.
func section(t *testing.T, text string) *yaml.Node {
	t.Helper()
	cfg, err := config.Parse([]byte(text), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Apps.Section(Name)
}

func TestConfigDefaultsAndRows(t *testing.T) {
	a, err := New(section(t, "apps:\n  sflow:\n    targets: [\"127.0.0.1:6343\", \"[::1]:6343\"]\n    sampling: 64\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows := a.BridgeRows(apps.HypervisorBridge{Name: "vswitch02", Known: true})
	if len(rows) != 1 || rows[0].Column != "sflow" {
		t.Fatalf("rows %+v, want one sFlow row", rows)
	}
	row, ok := rows[0].Row.(*vswitch.SFlow)
	if !ok {
		t.Fatalf("rows %+v, want one sFlow row", rows)
	}
	if *row.Sampling != 64 || *row.Header != DefaultHeader || *row.Polling != DefaultPolling || row.Agent != nil ||
		strings.Join(row.Targets, ",") != "127.0.0.1:6343,[::1]:6343" {
		t.Fatalf("row %+v", row)
	}
	if got := a.BridgeRows(apps.HypervisorBridge{Name: "vswitch02"}); got != nil {
		t.Fatalf("a bridge whose switch Loom does not know: %+v", got)
	}
}

func TestNoSectionOrNoTargetsSamplesNothing(t *testing.T) {
	for _, text := range []string{"", "apps:\n  sflow:\n    sampling: 10\n"} {
		a, err := New(section(t, text))
		if err != nil {
			t.Fatal(err)
		}
		if got := a.BridgeRows(apps.HypervisorBridge{Name: "br", Known: true}); got != nil {
			t.Fatalf("%q: rows %+v, want none", text, got)
		}
	}
}

func TestBridgesLimitWhereItSamples(t *testing.T) {
	a, err := New(section(t, "apps:\n  sflow:\n    targets: [\"10.0.0.9:6343\"]\n    bridges: [vswitch01]\n    agent: vswitch01\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.BridgeRows(apps.HypervisorBridge{Name: "vswitch02", Known: true}); got != nil {
		t.Fatalf("an unnamed bridge got %+v", got)
	}
	row := a.BridgeRows(apps.HypervisorBridge{Name: "vswitch01", Known: true})[0].Row.(*vswitch.SFlow)
	if row.Agent == nil || *row.Agent != "vswitch01" {
		t.Fatalf("agent %v", row.Agent)
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	for text, want := range map[string]string{
		"apps:\n  sflow:\n    targets: [collector:6343]\n": `apps.sflow.targets[0]: "collector:6343" is not an IP:port`,
		"apps:\n  sflow:\n    targets: [\"10.0.0.1\"]\n":   `apps.sflow.targets[0]`,
		"apps:\n  sflow:\n    targets: [\"10.0.0.1:0\"]\n": `apps.sflow.targets[0]`,
		"apps:\n  sflow:\n    sampling: 0\n":               `apps.sflow.sampling: 0`,
		// OVSDB refuses a set holding a value twice (found with real OVS:
		// the row was never written, and the change retried every second).
		"apps:\n  sflow:\n    targets: [\"10.0.0.1:6343\", \"10.0.0.1:6343\"]\n": `apps.sflow.targets[1]: "10.0.0.1:6343" is the collector of targets[0] again`,
		"apps:\n  sflow:\n    targets: [\"[::1]:6343\", \"[0::1]:6343\"]\n":      `apps.sflow.targets[1]`,
		"apps:\n  sflow:\n    header: 1000\n":                                    `apps.sflow.header: 1000`,
		"apps:\n  sflow:\n    polling: -1\n":                                     `apps.sflow.polling: -1`,
		"apps:\n  sflow:\n    bridges: [\"\"]\n":                                 `apps.sflow.bridges[0]`,
		"apps:\n  sflow:\n    targets: []\n    samplng: 5\n":                     `apps.sflow: line 4: unknown key "samplng" (did you mean "sampling"?)`,
		"apps:\n  sflow:\n    sampling: many\n":                                  `apps.sflow: line 3: cannot unmarshal`,
	} {
		_, err := New(section(t, text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
