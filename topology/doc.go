// Package topology is Loom's model of the network it controls: what the
// switches' OpenFlow connections show (datapaths, ports) joined with what
// each hypervisor's OVSDB shows (bridge names, VM interfaces and libvirt's
// external_ids), plus links and hosts. Every change bumps a revision and
// is published as an event; the whole model persists in the store and is
// reloaded at start, then converges to the live network.
package topology
