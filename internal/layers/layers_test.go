// Package layers holds the test that keeps Loom's imports pointing one
// way: down the layers of docs/ARCHITECTURE.md. A package may import only
// packages of a lower layer; only the wiring (cmd/, examples/) may import
// a concrete app; and every package must have a layer here, so a new one
// is placed on purpose.
package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/loomsdn/loom/"

// layer is the rank of each package, bottom up; a pattern ending in "/"
// covers the packages below that folder.
var layer = []struct {
	pattern string
	rank    int
}{
	// The wire and leaves: no Loom imports.
	{"openflow", 0}, {"ovsdb/vswitch", 0}, {"store", 0}, {"proto/loom/v1", 0}, {"bench/report", 0},
	{"internal/eventlog", 0}, {"internal/group", 0}, {"internal/memtrim", 0}, {"internal/procstat", 0}, {"internal/testpki", 0}, {"internal/ofpcap", 0}, {"internal/layers", 0}, {"internal/benchsize", 0}, {"cluster", 0}, {"internal/etcdtest", 1}, {"cluster/clustertest", 1},
	// Values over the wire.
	{"flow", 1}, {"ovsdb", 1}, {"internal/ofsim", 1}, {"internal/plantext", 1},
	// What Loom knows of the network, and the policy over it.
	{"topology", 2},
	{"network", 3},
	// The app contract, the pipeline registry and the config.
	{"apps", 4}, {"apps/pipeline", 4}, {"config", 4},
	// Apps, and the test doubles beside them.
	{"apps/", 5}, {"internal/apptest", 5}, {"internal/fakeswitch", 5},
	// The runtime, the network policy service over it, the Go API over
	// both, and the gRPC adapter over that.
	{"controller", 6},
	{"controller/policy", 7},
	{"controller/northbound", 8},
	{"controller/api", 9},
	// Wiring and tools.
	{"cmd/", 10}, {"examples/", 10},
	// Tests against real OVS.
	{"integration", 11}, {"integration/", 11},
}

// rankOf is the rank of the most specific pattern matching pkg.
func rankOf(pkg string) (int, bool) {
	best, rank := "", -1
	for _, l := range layer {
		match := pkg == l.pattern || strings.HasSuffix(l.pattern, "/") && strings.HasPrefix(pkg, l.pattern)
		if match && len(l.pattern) > len(best) {
			best, rank = l.pattern, l.rank
		}
	}
	return rank, rank >= 0
}

// wireFree are packages that must not see the API's wire types: the
// runtime and the policy speak Loom's domain; northbound converts.
var wireFree = map[string]bool{"controller": true, "controller/policy": true}

// concreteApp says whether pkg is one app (apps/<name>), not the contract
// or the pipeline registry.
func concreteApp(pkg string) bool {
	return strings.HasPrefix(pkg, "apps/") && pkg != "apps/pipeline"
}

// wiring may import concrete apps.
func wiring(pkg string) bool {
	return strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "examples/") || strings.HasPrefix(pkg, "integration")
}

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		from, ok := rankOf(pkg)
		if !ok {
			t.Errorf("package %s has no layer: add it to internal/layers and docs/ARCHITECTURE.md", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			to, ok := rankOf(dep)
			switch {
			case !ok:
				// reported as a package of its own
			case concreteApp(dep) && !wiring(pkg):
				t.Errorf("%s imports the app %s: only the wiring (cmd/, examples/) may; give apps a capability instead", pkg, dep)
			case wireFree[pkg] && dep == "proto/loom/v1":
				t.Errorf("%s imports the API's wire types: convert in controller/northbound", pkg)
			case to >= from:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down only", pkg, from, dep, to)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d imports: go list returned too little", checked)
	}
}

func TestLayerRuleCatchesAnUpwardImport(t *testing.T) {
	// The rule itself, on pairs that must fail: the runtime reading an
	// app, and a value package reading the runtime.
	if !concreteApp("apps/tunnel") || wiring("controller") {
		t.Fatal("controller -> apps/tunnel would pass")
	}
	flowRank, _ := rankOf("flow")
	ctlRank, _ := rankOf("controller")
	if flowRank >= ctlRank {
		t.Fatal("flow -> controller would pass")
	}
	if r, _ := rankOf("apps/tunnel"); r != 5 {
		t.Fatalf("apps/tunnel has layer %d, want 5 (the apps/ folder rule)", r)
	}
	if r, _ := rankOf("apps/pipeline"); r != 4 {
		t.Fatalf("apps/pipeline has layer %d, want 4 (more specific than apps/)", r)
	}
}
