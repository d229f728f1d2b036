// Package loomv1 will hold the gRPC wire contract (.proto files and their
// generated code) used by controller/api and loomctl. It imports nothing
// of Loom's.
package loomv1
