// Package controller is Loom's runtime: it accepts switch connections,
// runs one session per switch, dispatches events to apps in order per
// switch, and installs the flows apps declare.
package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/group"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/store"
	"github.com/loomsdn/loom/topology"
)

// Config tunes the controller. Zero values take defaults.
type Config struct {
	OpenFlow openflow.Config
	// RequestTimeout bounds each handshake request (default 10s).
	RequestTimeout time.Duration
	// EventQueue is the per-switch event backlog; packet-ins beyond it are
	// dropped and counted rather than stalling the connection (default 1024).
	EventQueue int
	Log        *logrus.Logger
	// Now is the clock handed to apps (default time.Now); tests pin it.
	Now func() time.Time
	// VerifyInterval is how often each switch's table is re-read and
	// repaired (default 10s).
	VerifyInterval time.Duration
	// Foreign says what to do with flows whose cookie is not Loom's.
	Foreign ForeignPolicy
	// Store persists the desired state across restarts (nil: memory only).
	Store store.Store
	// Topology, when set, is kept up to date with switches, ports and
	// hypervisors.
	Topology *topology.Topology
	// DiscoverFrom lists the networks whose hosts' OVSDBs Loom looks for:
	// a switch that connects over TCP from an address in one of them, on a
	// host no hypervisor covers, gets an OVSDB client at
	// tcp:<address>:6640. Empty: none (only configured hypervisors).
	DiscoverFrom []netip.Prefix
	// Targets are controller targets that mean this loomd besides its
	// listeners (a VIP, a NAT address, a name); see selfTargets.
	Targets []string
	// TLSCheckPeerCN makes health name each switch on an ssl:
	// listener whose certificate's common name is not the name of the
	// hypervisor its datapath id is bound to (see tlsConditions).
	TLSCheckPeerCN bool
	// OVSDBProbeInterval is how often an OVSDB connection is probed with
	// an echo (a server silent for two is disconnected); default 5s.
	OVSDBProbeInterval time.Duration
	// OVSDBTLS is the client TLS configuration for ssl: OVSDB endpoints.
	OVSDBTLS *tls.Config
	// OVSDBServerNames is, per hypervisor, the name its ssl: OVSDB
	// server's certificate must carry when not the endpoint's host.
	OVSDBServerNames map[string]string
	// PacketInRate caps each switch's packet-ins per second with OVS's
	// controller meter (0: no meter).
	PacketInRate uint32
	// ForgetAfter is how long a switch may be away before Loom forgets it
	// (ForgetSwitch); default 30m.
	ForgetAfter time.Duration
	// Cluster, when set, elects which instance masters each switch
	// (mastership.go); nil: this loomd masters every switch it reaches.
	Cluster Mastership
}

// Controller hosts apps and switch sessions.
type Controller struct {
	cfg      Config
	log      *logrus.Entry
	apps     []apps.App
	byID     map[flow.AppID]apps.App
	desired  *desiredStore
	pipeline flow.Pipeline
	reg      *registry
	stats    Stats
	persist  *persister
	hv       *hypervisors
	self     selfTargets // the controller targets that mean this loomd
	packets  packetSubs
	// jobs owns the controller's own goroutines (the topology refresh,
	// the batched disconnects, the ageing of switches away); Close
	// cancels and waits for them.
	jobs   *group.Group
	warned sync.Map // ids of standing conditions already logged
	// disc batches the topology's disconnects (nil without a topology).
	disc *disconnects
	// events are the operator's event stream (events.go).
	events *opEvents
	// refreshGen counts Refresh calls (each waits for its generation).
	refreshGen atomic.Uint64
	// missedGen counts the Refresh calls a switch in setup may have
	// missed: every one of all switches, and one naming a switch not
	// ready; see session.setupGen.
	missedGen atomic.Uint64
	// serving counts listeners accepting switches (Ready).
	serving atomic.Int32
	// watchers counts open API watch streams (admitWatcher).
	watchers       atomic.Int32
	packetWatchers atomic.Int32
	// generation is the MASTER role's generation id (see role.go).
	generation uint64
	// ledWith is, per switch, the generation this instance last led it
	// with in a cluster (uint64 by uint64 dpid; takeover.go).
	ledWith sync.Map
	// linkObs is discovery in a cluster, hearing the LLDP directions
	// other instances publish (sharedlinks.go); nil until ShareLinks.
	linkObs atomic.Pointer[LinkObserver]
	// forgetting holds the switches a ForgetSwitch call is forgetting
	// (uint64 dpid -> true), which the store's watch reports back.
	forgetting sync.Map
}

// New builds a controller for apps. App names and ids must be unique;
// apps run in the order given, except that each runs after the apps it
// reads (apps.Dependent, see orderApps).
func New(cfg Config, appList ...apps.App) (*Controller, error) {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.EventQueue <= 0 {
		cfg.EventQueue = 1024
	}
	if cfg.Log == nil {
		cfg.Log = logrus.StandardLogger()
	}
	if cfg.VerifyInterval <= 0 {
		cfg.VerifyInterval = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ForgetAfter <= 0 {
		cfg.ForgetAfter = 30 * time.Minute
	}
	c := &Controller{cfg: cfg, log: logrus.NewEntry(cfg.Log), apps: appList, byID: make(map[flow.AppID]apps.App),
		desired: newDesiredStore(), pipeline: flow.Pipeline{}, reg: newRegistry(), generation: uint64(time.Now().UnixNano()),
		events: newOpEvents(time.Now())}
	c.self.setExtra(cfg.Targets)
	names := map[string]bool{}
	tables := map[uint8]string{}
	for _, a := range appList {
		if names[a.Name()] {
			return nil, fmt.Errorf("two apps are named %q", a.Name())
		}
		if a.Name() == externalApp || a.ID() == externalID {
			return nil, fmt.Errorf("app %q: the name %q and cookie id %d are reserved for API clients", a.Name(), externalApp, externalID)
		}
		if other, ok := c.byID[a.ID()]; ok {
			return nil, fmt.Errorf("apps %q and %q share cookie id %d", other.Name(), a.Name(), a.ID())
		}
		for _, t := range a.Tables() {
			if t.Owner == "" {
				t.Owner = a.Name()
			}
			if t.Owner != a.Name() {
				return nil, fmt.Errorf("app %q declares table %d (%s), which the pipeline gives to %q", a.Name(), t.ID, t.Name, t.Owner)
			}
			if owner, ok := tables[t.ID]; ok {
				return nil, fmt.Errorf("apps %q and %q both declare table %d", owner, a.Name(), t.ID)
			}
			tables[t.ID] = a.Name()
			c.pipeline[t.ID] = t
		}
		names[a.Name()] = true
		c.byID[a.ID()] = a
	}
	for _, t := range c.pipeline {
		if t.Miss != flow.MissNext {
			continue
		}
		// OpenFlow only goes forward, and a miss into a table nobody
		// declares would drop silently.
		if _, ok := c.pipeline[t.Next]; !ok || t.Next <= t.ID {
			return nil, fmt.Errorf("app %q: table %d (%s) continues at table %d, which is not a later table of the pipeline", t.Owner, t.ID, t.Name, t.Next)
		}
	}
	ordered, err := orderApps(appList)
	if err != nil {
		return nil, err
	}
	c.apps = ordered
	if cfg.Store != nil {
		c.persist = newPersister(cfg.Store, c.log)
		c.desired.persist = c.persist.note
	}
	c.jobs = group.New(context.Background(), c.log)
	if cfg.Topology != nil && c.hasRefresher() {
		c.jobs.Go("refresh-on-topology", func(ctx context.Context) {
			c.refreshOnTopology(ctx, cfg.Topology, 50*time.Millisecond)
		})
	}
	if cfg.Topology != nil {
		c.disc = newDisconnects()
		c.jobs.Go("topology-disconnects", func(ctx context.Context) { c.disc.run(ctx, cfg.Topology) })
	}
	c.jobs.Go("age-switches", func(ctx context.Context) {
		c.ageSwitches(ctx, cfg.ForgetAfter, min(cfg.ForgetAfter/4, time.Minute))
	})
	c.jobs.Go("peer-events", func(ctx context.Context) { c.peerEvents(ctx, time.Second) })
	if cfg.Topology != nil {
		c.jobs.Go("vm-events", func(ctx context.Context) { c.vmEvents(ctx, cfg.Topology) })
	}
	return c, nil
}

// Close stops the controller's goroutines and writes what is still
// pending to the store; call it after Serve has returned. In order: the
// OVSDB clients (RunHypervisors) and their followers, then the
// controller's own loops, each group cancelled and awaited, together
// for at most closeWait (what has not stopped by then is logged by
// name), and last the persister, which writes the backlog the loops
// left and returns once its goroutine has. Close is idempotent.
func (c *Controller) Close() {
	deadline := time.Now().Add(closeWait)
	if c.hv != nil {
		c.hv.close(time.Until(deadline))
	}
	c.jobs.CloseWithin(time.Until(deadline))
	if c.persist != nil {
		c.persist.close()
	}
}

// closeWait bounds Close's wait for the controller's goroutines, well
// inside loomd's 5s for the whole shutdown: they only need to see their
// context end.
const closeWait = time.Second

func (c *Controller) hasRefresher() bool {
	for _, a := range c.apps {
		if _, ok := a.(apps.Refresher); ok {
			return true
		}
	}
	return false
}

func (c *Controller) now() time.Time { return c.cfg.Now() }

// Serve accepts switches on l until ctx ends or l is closed. Each
// connection gets its own session; Serve returns after they have all
// ended. An accept error (out of file descriptors, a connection reset
// before accept) never stops Loom: it is counted, logged at most once per
// acceptBackoffMax, and retried after a growing pause, as net/http does,
// so a storm of idle connections cannot turn into a busy loop or an exit.
func (c *Controller) Serve(ctx context.Context, l net.Listener) error {
	c.log.WithField("listen", l.Addr().String()).Info("accepting OpenFlow connections")
	defer c.self.listening(l.Addr())() // bridges pointed here are Loom's (selfTargets)
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	c.serving.Add(1)
	defer c.serving.Add(-1)
	var conns sync.WaitGroup
	defer func() {
		open := len(c.reg.list())
		conns.Wait()
		if ctx.Err() != nil && open > 0 {
			c.log.WithFields(logrus.Fields{"switches": open}).Info(
				"closed the switch sessions; the switches keep their flows")
		}
	}()
	var pause time.Duration
	var lastLog time.Time
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			c.stats.acceptErrors.Add(1)
			pause = min(max(2*pause, 5*time.Millisecond), acceptBackoffMax)
			if time.Since(lastLog) >= acceptBackoffMax {
				lastLog = time.Now()
				c.log.WithError(err).WithFields(logrus.Fields{"listen": l.Addr().String(), "retry_in": pause,
					"accept_errors": c.stats.acceptErrors.Load()}).Warn("accepting an OpenFlow connection failed; retrying")
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pause):
			}
			continue
		}
		pause = 0
		conns.Add(1)
		go func() {
			defer conns.Done()
			// ssl: listeners: the TLS handshake runs here, not in Accept,
			// bounded by the hello timeout.
			if err := handshakeTLS(ctx, nc, c.cfg.OpenFlow.HelloTimeout); err != nil {
				nc.Close()
				c.stats.rejectedConns.Add(1)
				c.stats.tlsRejected.Add(1)
				c.log.WithFields(connFields(nc)).WithError(err).Warn("TLS handshake failed; connection closed")
				return
			}
			c.runSession(ctx, nc)
		}()
	}
}

// acceptBackoffMax is the longest pause after a failed accept.
const acceptBackoffMax = time.Second

// Switches lists the DPIDs of connected switches.
func (c *Controller) Switches() []uint64 {
	var out []uint64
	for _, s := range c.reg.list() {
		out = append(out, s.dpid)
	}
	return out
}

// Stats are the controller's counters.
func (c *Controller) Stats() StatsSnapshot { return c.stats.snapshot() }
