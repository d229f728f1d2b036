// Package topology is Loom's model of the network it controls: what the
// switches' OpenFlow connections show (datapaths, ports) joined with what
// each hypervisor's OVSDB shows (bridge names, VM interfaces and libvirt's
// external_ids), plus links and hosts. Every change bumps a revision and
// is published as an event; the whole model persists in the store and is
// reloaded at start, then converges to the live network.
//
// Callers never set the model itself: sessions and OVSDB clients set
// inputs, and the view (a Snapshot) is computed from them, in full or for
// one switch. Each file has one job in that:
//
//   - model.go: the types the model is made of (Hypervisor, Switch, Port,
//     Link, Host, Snapshot), what callers read.
//   - topology.go: the Topology type, its lock, update (an input change
//     taking the full path) and commit (a new view, a revision and its
//     events, under one hold of the lock), and the reads (Snapshot,
//     Ports, Port, Switch, Revision).
//   - inputs.go: what the model is computed from, and the setters that
//     feed it: configuration (SetHypervisors), OVSDB (OVSDBState),
//     OpenFlow sessions (SwitchConnected, PortChanged, the disconnects,
//     ForgetSwitches), discovery (SetLink) and learning (HostSeen,
//     HostGone).
//   - join.go: the full recompute, inputs to view (join, switchView).
//   - incremental.go: the paths that skip it: one switch (commitSwitch),
//     since a connect storm must not recompute the network per switch,
//     and one host (setHost), since hosts change on the packet-in path.
//   - identity.go: which OVSDB speaks for a datapath id (claims, the
//     bridge index, Bind, Conflicts).
//   - events.go: Event with its typed Type and Kind, the event keys, diff
//     (the events between two views) and the log readers (Watch, Follow).
//   - copy.go: the deep copies every read and every event hands out, so
//     no caller holds the view's memory.
//   - persist.go: the stored form (Marshal, Restore) and where revisions
//     go on after a restart.
package topology
