package controller

import (
	"fmt"
	"strings"

	"github.com/loomsdn/loom/apps"
)

// orderApps returns list with every app after the apps it reads
// (apps.Dependent), keeping the given order wherever inputs do not
// decide. The controller dispatches every event and refresh in this
// order, so an app always computes from its inputs' latest declarations.
// An input naming no app, or inputs that form a cycle, are refused with
// the names involved: a silently wrong order would declare stale flows.
func orderApps(list []apps.App) ([]apps.App, error) {
	names := map[string]bool{}
	for _, a := range list {
		names[a.Name()] = true
	}
	inputs := func(a apps.App) []string {
		if d, ok := a.(apps.Dependent); ok {
			return d.Inputs()
		}
		return nil
	}
	for _, a := range list {
		for _, in := range inputs(a) {
			if !names[in] {
				return nil, fmt.Errorf("app %q reads app %q, which does not run", a.Name(), in)
			}
			if in == a.Name() {
				return nil, fmt.Errorf("app %q names itself as its input", a.Name())
			}
		}
	}
	placed := map[string]bool{}
	out := make([]apps.App, 0, len(list))
	for len(out) < len(list) {
		progress := false
		for _, a := range list {
			if placed[a.Name()] || !allPlaced(inputs(a), placed) {
				continue
			}
			placed[a.Name()], progress = true, true
			out = append(out, a)
			break // back to the start: the given order decides among the ready
		}
		if !progress {
			var stuck []string
			for _, a := range list {
				if !placed[a.Name()] {
					stuck = append(stuck, a.Name())
				}
			}
			return nil, fmt.Errorf("apps %s read each other in a cycle", strings.Join(stuck, ", "))
		}
	}
	return out, nil
}

func allPlaced(names []string, placed map[string]bool) bool {
	for _, n := range names {
		if !placed[n] {
			return false
		}
	}
	return true
}
