//go:build tools

// Package tools pins the code generators `make generate` runs, so their
// versions live in go.mod like any dependency.
package tools

import (
	_ "github.com/ovn-org/libovsdb/cmd/modelgen"
)
