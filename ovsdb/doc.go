// Package ovsdb will be Loom's OVSDB client (github.com/ovn-org/libovsdb):
// one connection per hypervisor to read bridges, ports and libvirt's
// external_ids and to write only what Loom owns (tunnel ports, fail_mode).
// With package openflow it is the only importer of a southbound library.
package ovsdb
