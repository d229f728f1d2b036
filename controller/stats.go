package controller

import "sync/atomic"

// Stats counts what the controller did; safe for concurrent use.
type Stats struct {
	packetIns       atomic.Uint64
	packetInDropped atomic.Uint64
	flowMods        atomic.Uint64
	packetOuts      atomic.Uint64
	switchErrors    atomic.Uint64
	rejectedConns   atomic.Uint64
	bundlesRejected atomic.Uint64
	conflicts       atomic.Uint64
	driftRepairs    atomic.Uint64
	invalidFlows    atomic.Uint64
	acceptErrors    atomic.Uint64
	unknownErrors   atomic.Uint64 // switch errors naming no request Loom remembers
	sessionPanics   atomic.Uint64
	eventsDropped   atomic.Uint64 // notifications beyond a session's backlog
	watchersBehind  atomic.Uint64 // API watch streams ended for falling behind
	tlsRejected     atomic.Uint64 // connections to ssl: listeners whose TLS handshake failed
	// takeovers counts switches this instance became master of in a
	// cluster, and takeoverFlowMods what those takeovers sent.
	takeovers        atomic.Uint64
	takeoverFlowMods atomic.Uint64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	PacketIns, PacketInsDropped, FlowMods, PacketOuts, SwitchErrors, RejectedConns uint64
	BundlesRejected, Conflicts, DriftRepairs, InvalidFlows                         uint64
	AcceptErrors, UnknownErrors, SessionPanics, EventsDropped                      uint64
	TLSRejected                                                                    uint64
	Takeovers, TakeoverFlowMods                                                    uint64
}

func (s *Stats) snapshot() StatsSnapshot {
	return StatsSnapshot{s.packetIns.Load(), s.packetInDropped.Load(), s.flowMods.Load(), s.packetOuts.Load(),
		s.switchErrors.Load(), s.rejectedConns.Load(), s.bundlesRejected.Load(), s.conflicts.Load(),
		s.driftRepairs.Load(), s.invalidFlows.Load(), s.acceptErrors.Load(), s.unknownErrors.Load(), s.sessionPanics.Load(), s.eventsDropped.Load(),
		s.tlsRejected.Load(), s.takeovers.Load(), s.takeoverFlowMods.Load()}
}
