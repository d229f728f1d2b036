package controller

import (
	"strings"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
)

// dependentApp is an app reading the apps it names.
type dependentApp struct {
	name   string
	inputs []string
}

func (d dependentApp) Name() string         { return d.name }
func (d dependentApp) ID() flow.AppID       { return 0 }
func (d dependentApp) Tables() []flow.Table { return nil }
func (d dependentApp) Inputs() []string     { return d.inputs }

func names(list []apps.App) string {
	var out []string
	for _, a := range list {
		out = append(out, a.Name())
	}
	return strings.Join(out, " ")
}

func TestAppsRunAfterTheirInputs(t *testing.T) {
	got, err := orderApps([]apps.App{
		dependentApp{name: "l2", inputs: []string{"vlan"}},
		dependentApp{name: "static"},
		dependentApp{name: "vlan", inputs: []string{"tunnel"}},
		dependentApp{name: "tunnel"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// static keeps its place before vlan; each app after its input.
	if want := "static tunnel vlan l2"; names(got) != want {
		t.Fatalf("order %q, want %q", names(got), want)
	}
}

func TestAppOrderKeepsTheGivenOrderWithoutInputs(t *testing.T) {
	list := []apps.App{dependentApp{name: "b"}, dependentApp{name: "a"}, dependentApp{name: "c"}}
	got, err := orderApps(list)
	if err != nil || names(got) != "b a c" {
		t.Fatalf("order %q (%v), want the given one", names(got), err)
	}
}

func TestAppOrderRefusesCyclesAndMissingInputs(t *testing.T) {
	for _, c := range []struct {
		list []apps.App
		want string
	}{
		{[]apps.App{dependentApp{name: "a", inputs: []string{"b"}}, dependentApp{name: "b", inputs: []string{"a"}}, dependentApp{name: "c"}},
			`apps a, b read each other in a cycle`},
		{[]apps.App{dependentApp{name: "vlan", inputs: []string{"tunnel"}}}, `app "vlan" reads app "tunnel", which does not run`},
		{[]apps.App{dependentApp{name: "a", inputs: []string{"a"}}}, `app "a" names itself as its input`},
	} {
		if _, err := orderApps(c.list); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", names(c.list), err, c.want)
		}
	}
}
