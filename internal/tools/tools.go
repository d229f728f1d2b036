//go:build tools

// Package tools pins the code generators `make generate` and `make proto`
// run, so their versions live in go.mod like any dependency.
package tools

import (
	_ "github.com/ovn-org/libovsdb/cmd/modelgen"
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
