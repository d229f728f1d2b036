// Package ovsdb is Loom's OVSDB client (github.com/ovn-org/libovsdb): one
// connection per hypervisor that reads bridges, ports and the external_ids
// libvirt writes, and writes only what Loom owns (tunnel ports, fail_mode
// on the bridges it controls), stamping its ownership into external_ids.
// With package openflow it is the only importer of a southbound library;
// the models in ovsdb/vswitch are generated (make generate) from OVS 3.1's
// schema. libovsdb checks them against the server's schema on connect: a
// newer OVS (more columns) is fine, an older one that lacks a column gets
// an error naming it, logged once per attempt, and retries.
//
// No input from an OVSDB server may crash loomd. libovsdb v0.7.0 panicked
// on plenty (a schema column without a type or of an unknown type, a map
// pair of one element, an empty array, a null row, an update3 for an
// unknown monitor, a response without an id, ...), several times in its
// own reader goroutine where no caller can recover. Loom therefore builds
// against a fork, third_party/libovsdb (a replace in go.mod; its FORK.md
// lists every change), that returns an error for each of those, naming
// the table, column or value at fault, and recovers in its codec and
// notification handlers as a last line. A schema or monitor reply it
// refuses fails the connection attempt; a notification it refuses closes
// the connection (the cache would no longer mirror the server). Either way
// the error is logged and Loom retries with backoff. hostile_test.go
// serves every such input from a fake server; FuzzSchema, FuzzUpdate and
// FuzzWire fuzz each input path.
//
// Loom owns the reconnect: each connection is a fresh libovsdb client,
// never one of libovsdb's reconnect loops (that one panicked once its
// backoff's MaxElapsedTime, 15 minutes by default, had passed), and Run
// retries with a backoff that never gives up. An inactivity probe (an
// OVSDB echo every probe interval, DefaultProbeInterval unless
// WithProbeInterval says otherwise, each to be answered within one) ends a
// connection to a server that died or hung within two intervals of its
// last reply; operations in flight on it are cancelled and Changed is
// signalled. Health reports the connection for /healthz and loomctl.
package ovsdb
