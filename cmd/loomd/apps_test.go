package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/topology"
)

// loomd's apps must form the pipeline the registry declares: every table
// declared by its owner, every id the registry's, and the controller
// accepts them (names, ids, tables, next tables, input order).
func TestLoomdAppsFormTheRegisteredPipeline(t *testing.T) {
	list, err := pipelineApps(config.Default(), topology.New(), network.NewHolder(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controller.New(controller.Config{}, list...); err != nil {
		t.Fatalf("the controller refuses loomd's apps: %v", err)
	}
	declared := map[uint8]string{}
	for _, a := range list {
		for _, tbl := range a.Tables() {
			declared[tbl.ID] = a.Name()
		}
	}
	for id, s := range pipeline.Stages() {
		if declared[uint8(id)] != s.Owner {
			t.Errorf("table %d (%s): declared by %q, the registry says %q", id, s.Name, declared[uint8(id)], s.Owner)
		}
	}
	bands := map[string]bool{}
	for _, b := range pipeline.Bands {
		bands[b.App] = true
	}
	for _, a := range list {
		if len(a.Tables()) > 0 && !bands[a.Name()] {
			t.Errorf("app %s owns tables but has no priority band in the registry", a.Name())
		}
	}
}

// A section under apps: that no app reads is refused, naming the key, as
// any unknown key is; an app's own section is checked by the app.
func TestAppSectionsAreClaimedAndChecked(t *testing.T) {
	for text, want := range map[string]string{
		"apps:\n  sfow:\n    targets: [\"127.0.0.1:6343\"]\n": `apps.sfow: no app of that name (did you mean "sflow"?)`,
		"apps:\n  mirrors: {}\n":                              `apps.mirrors: no app of that name reads configuration`,
		"apps:\n  sflow:\n    targets: [nowhere]\n":           `apps.sflow.targets[0]`,
	} {
		cfg, err := config.Parse([]byte(text), "t.yaml")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		_, err = pipelineApps(cfg, topology.New(), network.NewHolder(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	cfg, err := config.Parse([]byte("apps:\n  sflow:\n    targets: [\"127.0.0.1:6343\"]\n  l2:\n    max_macs: 10\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipelineApps(cfg, topology.New(), network.NewHolder(nil)); err != nil {
		t.Fatalf("a valid sflow section: %v", err)
	}
}

// A reload sees an app's section as changed only when its content is:
// networks added above it move its lines, not its meaning.
func TestReloadComparesAppSectionsByContent(t *testing.T) {
	before := "apps:\n  sflow: {targets: [\"127.0.0.1:6343\"]}\n"
	parse := func(text string) config.Config {
		c, err := config.Parse([]byte(text), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	moved := parse("networks:\n  - {name: web, vlan: 10, ports: [\"p*\"]}\n" + before)
	if !reflect.DeepEqual(withoutNetworks(parse(before)), withoutNetworks(moved)) {
		t.Fatal("a network above the sflow section reads as a change to the section")
	}
	changed := parse("apps:\n  sflow: {targets: [\"127.0.0.1:6344\"]}\n")
	if reflect.DeepEqual(withoutNetworks(parse(before)), withoutNetworks(changed)) {
		t.Fatal("a changed collector reads as no change")
	}
}

// A static flow the running pipeline would refuse is refused at start
// and by --check-config, naming the entry.
func TestStaticFlowsAreCheckedAgainstThePipeline(t *testing.T) {
	for flowText, want := range map[string]string{
		"table=4, priority=10,dl_type=0x0800,nw_proto=6,tp_dst=80 actions=drop": "apps.static.flows[0].flow: table 4 (l2-forward) does not allow matching on",
		"table=3, priority=10 actions=goto_table:1":                             "apps.static.flows[0].flow: goto_table:1 is not after table 3",
		"table=9, priority=10 actions=drop":                                     "apps.static.flows[0].flow: no table 9 in the pipeline",
	} {
		cfg, err := config.Parse([]byte("apps:\n  static:\n    flows:\n      - {switch: \"*\", flow: \""+flowText+"\"}\n"), "t.yaml")
		if err != nil {
			t.Fatalf("%s: %v", flowText, err)
		}
		_, err = pipelineApps(cfg, topology.New(), network.NewHolder(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", flowText, err, want)
		}
	}
	cfg, err := config.Parse([]byte("apps:\n  static:\n    flows:\n      - {switch: \"*\", flow: \"table=0, priority=2000,dl_type=0x88cc actions=drop\"}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipelineApps(cfg, topology.New(), network.NewHolder(nil)); err != nil {
		t.Fatalf("a valid static flow: %v", err)
	}
}

// A reload refuses a file loomd would refuse at start: an app section no
// app reads, or one its app rejects, is as fatal to the reload as to the
// next start (it was accepted with a warning, and the next restart
// failed), with the same error as --check-config gives.
func TestReloadRefusesWhatStartRefuses(t *testing.T) {
	good := "apps:\n  sflow:\n    targets: [\"127.0.0.1:6343\"]\n"
	path := filepath.Join(t.TempDir(), "loom.yaml")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	running, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := logtest.NewNullLogger()
	reload := reloader(path, running, log)
	if _, err := reload(); err != nil {
		t.Fatalf("the running file: %v", err)
	}
	for _, text := range []string{
		"apps:\n  sfow:\n    targets: [\"127.0.0.1:6343\"]\n",
		"apps:\n  sflow:\n    targets: [nowhere]\n",
		"apps:\n  sflow:\n    samplng: 5\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		check := checkConfigFile(path, "", io.Discard)
		if check == nil {
			t.Fatalf("%q: --check-config accepts it", text)
		}
		if _, err := reload(); err == nil || err.Error() != check.Error() {
			t.Errorf("%q: reload: %v; --check-config: %v", text, err, check)
		}
	}
}
