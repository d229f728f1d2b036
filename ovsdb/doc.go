// Package ovsdb is Loom's OVSDB client (github.com/ovn-org/libovsdb): one
// connection per hypervisor that reads bridges, ports and the external_ids
// libvirt writes, and writes only what Loom owns (tunnel ports, fail_mode
// on the bridges it controls), stamping its ownership into external_ids.
// With package openflow it is the only importer of a southbound library;
// the models in ovsdb/vswitch are generated (make generate) from OVS 3.1's
// schema. libovsdb checks them against the server's schema on connect: a
// newer OVS (more columns) is fine, an older one that lacks a column gets
// an error naming it, logged once per attempt, and retries.
package ovsdb
