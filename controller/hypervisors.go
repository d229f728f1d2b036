package controller

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/internal/group"
	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

// hypervisors runs one OVSDB client per hypervisor: those configured, and
// one for each host in the networks discovery allows (Config.DiscoverFrom;
// none by default) whose bridge connects over TCP without a configured
// hypervisor, at tcp:<its address>:6640. Each client feeds the topology,
// makes sure the bridges Loom controls (identity.go) are in
// fail_mode=secure, and keeps the ports apps declare (ovsdbports.go).
type hypervisors struct {
	c *Controller
	// jobs owns every client's Run and follow goroutines; ctx is its
	// context, which the OVSDB operations they start derive from.
	// Controller.Close cancels and awaits them.
	jobs *group.Group
	ctx  context.Context

	mu      sync.Mutex
	clients map[string]*ovsdb.Client // by hypervisor name
	hosts   map[string]string        // endpoint host -> hypervisor name
	// discovered counts the clients started by discovery: at most
	// maxDiscovered, whatever connects.
	discovered int
	// conflicts are the contested dpids already logged (bounded).
	conflicts     map[uint64]string
	conflictsGen  uint64          // the topology's claims generation conflicts reflects
	conflictsRead bool            // conflictsGen is set
	noted         map[string]bool // refusals already logged (once)
}

// maxDiscovered bounds the OVSDB clients discovery starts: each is a
// goroutine and a connection loop, and their keys come from whoever
// connects.
const maxDiscovered = 4096

// DefaultOVSDBPort is where Loom looks for an unlisted hypervisor's OVSDB.
const DefaultOVSDBPort = "6640"

// RunHypervisors starts the OVSDB clients of the configured hypervisors
// and watches for new ones until ctx ends or Close, which waits for the
// clients to stop. Call it once.
func (c *Controller) RunHypervisors(ctx context.Context, configured []topology.Hypervisor) {
	jobs := group.New(ctx, c.log)
	h := &hypervisors{c: c, jobs: jobs, ctx: jobs.Context(), clients: map[string]*ovsdb.Client{}, hosts: map[string]string{}, conflicts: map[uint64]string{}}
	c.hv = h
	if c.cfg.Topology != nil {
		c.cfg.Topology.SetHypervisors(configured)
	}
	for _, hv := range configured {
		h.start(hv.Name, hv.OVSDB)
	}
}

// start runs a client for name at endpoint (once).
func (h *hypervisors) start(name, endpoint string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[name]; ok {
		return
	}
	cl, err := ovsdb.New(name, endpoint, h.tlsFor(name), h.c.log, ovsdb.WithProbeInterval(h.c.cfg.OVSDBProbeInterval))
	if err != nil {
		h.c.log.WithError(err).Warn("hypervisor not started")
		return
	}
	if !h.jobs.Go("ovsdb-client "+name, cl.Run) {
		return // closing
	}
	h.jobs.Go("ovsdb-follow "+name, func(context.Context) { h.follow(name, endpoint, cl) })
	h.clients[name] = cl
	if _, addr, err := ovsdb.ParseEndpoint(endpoint); err == nil {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			h.hosts[host] = name
		}
	}
}

// close cancels the clients and their followers and waits for them, at
// most limit.
func (h *hypervisors) close(limit time.Duration) { h.jobs.CloseWithin(limit) }

// switchFrom starts a client for the host a switch connected from when no
// hypervisor covers it yet and discovery allows its network. Anyone can
// open an OpenFlow connection: without that allow list, any host could
// make Loom dial it and believe what its OVSDB says.
func (h *hypervisors) switchFrom(remote net.Addr) {
	if h == nil || len(h.c.cfg.DiscoverFrom) == 0 {
		return
	}
	tcp, ok := remote.(*net.TCPAddr)
	if !ok {
		return // unix sockets: the host is this one, and must be configured
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok || !allowed(h.c.cfg.DiscoverFrom, ip.Unmap()) {
		return
	}
	host := ip.Unmap().String()
	h.mu.Lock()
	_, known := h.hosts[host]
	full := h.discovered >= maxDiscovered
	if !known && !full {
		h.discovered++
	}
	h.mu.Unlock()
	switch {
	case known:
	case full:
		h.c.warnOnce("discovery-full", h.c.log.WithField("host", host),
			"discovery already runs the most OVSDB clients it may; configure further hypervisors")
	default:
		h.c.log.WithField("host", host).Info("no hypervisor configured for this switch's host; trying its OVSDB on port " + DefaultOVSDBPort)
		h.start(host, "tcp:"+net.JoinHostPort(host, DefaultOVSDBPort))
	}
}

// allowed says whether ip is in one of nets.
func allowed(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// follow feeds one client's view into the topology as it changes, reports
// the connection going away, keeps controlled bridges secure and holds
// the ports apps declare. The
// client signals Changed when it loses its connection (the server closed
// it, sent something Loom refused, or left an inactivity probe unanswered)
// and cancels the OVSDB operations in flight, so the topology hears of it
// at once, well within two probe intervals of the server's last reply.
func (h *hypervisors) follow(name, endpoint string, cl *ovsdb.Client) {
	top := h.c.cfg.Topology
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	reported, first := "", true // the error last reported ("" after a view)
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-cl.Changed():
		case <-tick.C:
		}
		snap, err := cl.Snapshot()
		if err != nil {
			// Not connected: say why, once per reason (the topology
			// keeps the last view).
			if top != nil && (first || err.Error() != reported) {
				top.OVSDBState(name, endpoint, nil, err)
			}
			reported, first = err.Error(), false
			continue
		}
		reported, first = "", false
		if top != nil {
			top.OVSDBState(name, endpoint, &snap, nil)
		}
		h.noteConflicts()
		h.secure(cl, snap)
		h.declaredPorts(cl, snap)
		h.declaredRows(cl, snap)
	}
}

// secure puts every bridge of snap that is Loom's and connected to it
// (h.ours) in fail_mode=secure.
func (h *hypervisors) secure(cl *ovsdb.Client, snap ovsdb.Hypervisor) {
	for _, b := range snap.Bridges {
		if b.FailMode == "secure" || h.c.passive(b.DPID) || !h.ours(snap.Name, b, true) {
			continue
		}
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		if _, err := cl.EnsureFailSecure(ctx, b.Name); err != nil {
			h.c.log.WithError(err).WithFields(logrus.Fields{"hypervisor": snap.Name, "bridge": b.Name}).Warn("could not set fail_mode=secure")
		}
		cancel()
	}
}

// ovsdbDo runs one OVSDB change with a timeout and logs its outcome;
// about names what it changes ("port", "column") and which one.
func (h *hypervisors) ovsdbDo(hv, bridge, about, which, done string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	log := h.c.log.WithFields(logrus.Fields{"hypervisor": hv, "bridge": bridge, about: which})
	if err := fn(ctx); err != nil {
		log.WithError(err).Warn("OVSDB change failed; retrying on the next change or within a second")
		return
	}
	log.Info(done)
}

// warnOnce logs a standing condition once per id rather than on every
// OVSDB change.
func (c *Controller) warnOnce(id string, log *logrus.Entry, msg string) {
	if _, seen := c.warned.LoadOrStore(id, true); !seen {
		log.Warn(msg)
	}
}

// tlsFor is the TLS client configuration for hypervisor name's OVSDB:
// the shared one, checking the server's certificate for the configured
// name when there is one (TLS checks the endpoint's host otherwise).
func (h *hypervisors) tlsFor(name string) *tls.Config {
	cfg := h.c.cfg.OVSDBTLS
	if want := h.c.cfg.OVSDBServerNames[name]; cfg != nil && want != "" {
		cfg = cfg.Clone()
		cfg.ServerName = want
	}
	return cfg
}
