// Package ovsdb is Loom's OVSDB client (github.com/ovn-org/libovsdb): one
// connection per hypervisor that reads bridges, ports and the external_ids
// libvirt writes, and writes only what Loom owns (tunnel ports, fail_mode
// on the bridges it controls), stamping its ownership into external_ids.
// With package openflow it is the only importer of a southbound library;
// the models in ovsdb/vswitch are generated (make generate).
package ovsdb
