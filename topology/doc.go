// Package topology will hold Loom's model of the network: hypervisors,
// switches, ports, links (LLDP), hosts and VM attachments, with change
// events and a revision number, persisted in the store. Until it lands,
// each controller session keeps its switch's ports (controller/session.go).
package topology
