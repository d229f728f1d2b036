// Package flow holds Loom's flows as pure values: matches, actions, flows,
// pipeline tables and cookies. Nothing here does I/O. Apps build these
// values, the controller diffs them, and Flow.FlowMod turns one into the
// wire message package openflow encodes.
package flow
