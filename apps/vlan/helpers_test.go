package vlan

import (
	"sort"

	"github.com/loomsdn/loom/flow"
)

type flowList = []flow.Flow

func sorted(s []string) []string { sort.Strings(s); return s }
