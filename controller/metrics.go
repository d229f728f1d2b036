package controller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the controller's counters to Prometheus. It reads them
// at scrape time, so the packet path pays nothing for metrics.
type Collector struct {
	c        *Controller
	switches *prometheus.Desc
	desired  *prometheus.Desc
	peers    *prometheus.Desc
	behind   *prometheus.Desc
	backlog  *prometheus.Desc
	storeErr *prometheus.Desc
	counters []counterDesc
}

type counterDesc struct {
	desc *prometheus.Desc
	get  func(StatsSnapshot) uint64
}

// Collector returns a Prometheus collector for c.
func (c *Controller) Collector() *Collector {
	counter := func(name, help string, get func(StatsSnapshot) uint64) counterDesc {
		return counterDesc{prometheus.NewDesc("loom_"+name, help, nil, nil), get}
	}
	return &Collector{c: c,
		switches: prometheus.NewDesc("loom_switches_connected", "OpenFlow switches connected now.", nil, nil),
		desired:  prometheus.NewDesc("loom_desired_flows", "Flows apps declare, by app.", []string{"app"}, nil),
		peers: prometheus.NewDesc("loom_tunnel_peer_up", "1 while probes from one hypervisor reach another through the tunnel, else 0.",
			[]string{"from", "to"}, nil),
		behind: prometheus.NewDesc("loom_topology_watchers_behind_total",
			"Topology event reads (API watches, internal followers) that found their events already dropped from the log: the reader fell more than 10,000 events behind.", nil, nil),
		backlog: prometheus.NewDesc("loom_persist_backlog",
			"Apps' desired-state changes not yet written to the store (retried until it takes them).", nil, nil),
		storeErr: prometheus.NewDesc("loom_persist_errors_total",
			"Store commits that failed: background batches (retried) and API writes (refused to their callers).", nil, nil),
		counters: []counterDesc{
			counter("packet_ins_total", "Packet-ins received.", func(s StatsSnapshot) uint64 { return s.PacketIns }),
			counter("packet_ins_dropped_total", "Packet-ins dropped because a switch's event queue was full.", func(s StatsSnapshot) uint64 { return s.PacketInsDropped }),
			counter("flow_mods_total", "Flow-mods sent (in bundles or not).", func(s StatsSnapshot) uint64 { return s.FlowMods }),
			counter("packet_outs_total", "Packet-outs sent.", func(s StatsSnapshot) uint64 { return s.PacketOuts }),
			counter("switch_errors_total", "OpenFlow errors switches returned.", func(s StatsSnapshot) uint64 { return s.SwitchErrors }),
			counter("rejected_connections_total", "Connections refused or dropped before they became sessions.", func(s StatsSnapshot) uint64 { return s.RejectedConns }),
			counter("tls_handshake_failures_total", "Connections to ssl: listeners refused in the TLS handshake (no certificate, one the CA did not sign, or no handshake in time); also in rejected_connections_total.", func(s StatsSnapshot) uint64 { return s.TLSRejected }),
			counter("bundles_rejected_total", "Bundles a switch refused (its table unchanged).", func(s StatsSnapshot) uint64 { return s.BundlesRejected }),
			counter("flow_conflicts_total", "Times two owners declared the same flow.", func(s StatsSnapshot) uint64 { return s.Conflicts }),
			counter("cluster_takeovers_total", "Switches this instance became master of (a cluster).", func(s StatsSnapshot) uint64 { return s.Takeovers }),
			counter("cluster_takeover_flow_mods_total", "Flow-mods the takeovers sent: zero when the previous master left the switch as the shared state wants it.", func(s StatsSnapshot) uint64 { return s.TakeoverFlowMods }),
			counter("drift_repairs_total", "Flow-mods sent to repair out-of-band changes.", func(s StatsSnapshot) uint64 { return s.DriftRepairs }),
			counter("accept_errors_total", "OpenFlow accepts that failed (e.g. out of file descriptors); Loom pauses and retries.", func(s StatsSnapshot) uint64 { return s.AcceptErrors }),
			counter("switch_errors_unmatched_total", "Switch errors whose xid names no request Loom remembers (logged in summary only).", func(s StatsSnapshot) uint64 { return s.UnknownErrors }),
			counter("session_panics_total", "Sessions ended by a bug (logged with its stack); must stay 0.", func(s StatsSnapshot) uint64 { return s.SessionPanics }),
			counter("events_dropped_total", "Switch notifications (errors, flow removals) dropped beyond a session's backlog.", func(s StatsSnapshot) uint64 { return s.EventsDropped }),
			counter("invalid_flows_total", "Declarations refused for breaking their table's rules.", func(s StatsSnapshot) uint64 { return s.InvalidFlows }),
		}}
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.switches
	ch <- m.desired
	ch <- m.peers
	ch <- m.behind
	ch <- m.backlog
	ch <- m.storeErr
	for _, c := range m.counters {
		ch <- c.desc
	}
}

// Collect implements prometheus.Collector.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(m.switches, prometheus.GaugeValue, float64(len(m.c.reg.list())))
	for app, n := range m.c.desired.countByApp() {
		ch <- prometheus.MustNewConstMetric(m.desired, prometheus.GaugeValue, float64(n), app)
	}
	for _, p := range m.c.peers() {
		up := 0.0
		if p.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(m.peers, prometheus.GaugeValue, up, p.From, p.To)
	}
	if top := m.c.cfg.Topology; top != nil {
		ch <- prometheus.MustNewConstMetric(m.behind, prometheus.CounterValue, float64(top.FellBehind()+m.c.stats.watchersBehind.Load()))
	}
	if p := m.c.persist; p != nil {
		ch <- prometheus.MustNewConstMetric(m.backlog, prometheus.GaugeValue, float64(p.backlog()))
		ch <- prometheus.MustNewConstMetric(m.storeErr, prometheus.CounterValue, float64(p.errs.Load()))
	}
	st := m.c.Stats()
	for _, c := range m.counters {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.get(st)))
	}
}
