package cluster

import (
	"slices"
	"strings"
)

func sortInstances(in []InstanceState) {
	slices.SortFunc(in, func(a, b InstanceState) int { return strings.Compare(a.Name, b.Name) })
}

func deleteNamed(in []InstanceState, name string) []InstanceState {
	return slices.DeleteFunc(in, func(s InstanceState) bool { return s.Name == name })
}
