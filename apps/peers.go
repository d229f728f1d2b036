package apps

import "time"

// PeerReporter is an app that keeps paths between hypervisors (the tunnel
// mesh): Peers says how each is doing, for `loomctl get tunnels` and the
// loom_tunnel_peer_up metric. Called from any goroutine.
type PeerReporter interface {
	Peers(now time.Time) []Peer
}

// Peer is the health of the path from one hypervisor to another.
type Peer struct {
	From, To  string
	RemoteIP  string
	Up        bool
	Reason    string // why it is down
	LastProbe time.Time
}
