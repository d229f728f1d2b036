package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/openflow"
)

// Mastership in a cluster. The cluster (cluster.Node) elects one master
// instance per switch; every other instance keeps its connection as
// SLAVE: it sees port status and serves reads, and writes nothing, to
// the switch or its OVSDB. Never EQUAL: OVS checks no generation for an
// EQUAL controller and lets it write.
//
// A session told it is master restores the switch's declarations from
// the shared store (what the previous master declared), asks the switch
// for MASTER with its election revision as generation id, and only once
// the ROLE_REPLY confirms it diffs the table against the desired state:
// with nothing changed, the takeover sends no flow-mod. Told it is not,
// it stops writing at once (before the cluster lets another win) and
// asks for SLAVE with the master's generation, which the switch accepts
// as not stale.

// clusterGenerationBase is added to every election revision on the wire.
// A bridge remembers the last generation id it saw for as long as
// ovs-vswitchd runs, and a standalone loomd's is its start time in
// nanoseconds (about 1.8e18 today): bare etcd revisions would be refused
// as stale on a fleet moving from standalone loomd to a cluster. 2^62
// (4.6e18) is above any such start time until the year 2116, and far from
// the signed wrap OVS compares with.
const clusterGenerationBase = 1 << 62

func wireGeneration(revision uint64) uint64 { return clusterGenerationBase + revision }

// Mastership is the cluster's say over which instance writes to each
// switch; nil in Config means this loomd is master of every switch it
// reaches.
type Mastership interface {
	// Reach registers a ready session; roles hears this instance's role
	// for the switch now and at every change, and must not block.
	Reach(dpid uint64, roles func(cluster.Role)) (release func())
	// Master names the switch's master instance ("" when none).
	Master(dpid uint64) string
	// Name is this instance's name.
	Name() string
	// Healthy says whether the instance is in contact with etcd.
	Healthy() (bool, string)
	// Instances lists the cluster's instances.
	Instances() []cluster.InstanceState
}

// clusterRole is a session's cluster standing. mu orders the cluster's
// notifications (another goroutine) against a takeover on the session's
// goroutine, so a session can never be made writable after being told to
// stand by.
type clusterRole struct {
	mu      sync.Mutex
	latest  cluster.Role
	told    bool
	kick    chan struct{}
	gen     uint64 // the generation the switch confirmed this instance MASTER with
	slaveOf uint64 // the master generation the last SLAVE request carried
}

// toldRole runs on the cluster's goroutine: it stops writes at once when
// the role is not (or no longer) this instance's, and leaves the rest to
// the session's loop.
func (s *session) toldRole(r cluster.Role) {
	s.cluster.mu.Lock()
	s.cluster.latest, s.cluster.told = r, true
	if !r.Mine {
		s.standBy(r.Why)
	}
	s.cluster.mu.Unlock()
	select {
	case s.cluster.kick <- struct{}{}:
	default:
	}
}

// standBy makes the session passive as an expected cluster slave: not a
// health problem. s.cluster.mu is held.
func (s *session) standBy(why string) {
	s.role.expected.Store(true)
	if !s.role.passive.Swap(true) {
		s.role.reason.Store(&why)
		s.role.since.Store(time.Now().UnixNano())
		if s.cluster.gen != 0 {
			log := s.log.WithField("why", why).Warn
			if s.cluster.latest.Holder != "" && s.cluster.latest.Holder != s.c.cfg.Cluster.Name() {
				log = s.log.WithField("why", why).Info // handed over to another instance: the cluster at work
			}
			log("no longer master of this switch: stopped writing to it")
			s.c.Emitf(EventSwitch, s.c.switchName(s.dpid), "master no longer: %s", why)
		}
	}
	s.cluster.gen = 0
}

// roleTurn acts on the latest role, on the session's goroutine.
func (s *session) roleTurn(ctx context.Context) {
	s.cluster.mu.Lock()
	r, told := s.cluster.latest, s.cluster.told
	s.cluster.mu.Unlock()
	switch {
	case !told:
	case r.Mine:
		s.takeOver(ctx, r)
	case r.Generation != 0 && r.Generation != s.cluster.slaveOf:
		s.askSlave(ctx, r)
	}
}

// askSlave tells the switch this connection is SLAVE: it then sends it
// no packet-ins and refuses its writes.
func (s *session) askSlave(ctx context.Context, r cluster.Role) {
	rctx, cancel := context.WithTimeout(ctx, s.c.cfg.RequestTimeout)
	defer cancel()
	_, err := s.conn.Begin(rctx, openflow.RoleRequest{Role: openflow.RoleSlave, GenerationID: wireGeneration(r.Generation)})()
	if err != nil && !isStale(err) {
		s.log.WithError(err).Warn("role request SLAVE failed")
		return
	}
	// Stale: the switch has seen a newer master than the cluster told
	// us of; it is SLAVE for that one anyway once it asks.
	s.cluster.slaveOf = r.Generation
	s.log.WithFields(logrus.Fields{"master": r.Holder, "generation": r.Generation}).Info("standing by as SLAVE: another instance is master")
}

// takeOver makes this instance the switch's master.
func (s *session) takeOver(ctx context.Context, r cluster.Role) {
	if s.cluster.gen == r.Generation && !s.role.passive.Load() {
		return
	}
	start := time.Now()
	restored, err := s.c.takeoverDeclarations(s.dpid, r.Generation)
	if err != nil {
		// Without the previous master's declarations the diff would delete
		// its flows: better to wait for the store.
		s.log.WithError(err).Error("cannot read the switch's declarations from the shared store; not taking over yet")
		s.retryRoleLater()
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.c.cfg.RequestTimeout)
	_, err = s.conn.Begin(rctx, openflow.RoleRequest{Role: openflow.RoleMaster, GenerationID: wireGeneration(r.Generation)})()
	cancel()
	if err != nil {
		if isStale(err) {
			// Another controller set a higher generation on the bridge (a
			// cluster whose etcd was rebuilt from scratch: its revisions
			// start over). Nobody in this cluster can master the switch
			// until ovs-vswitchd restarts: said in health, not only logged.
			why := fmt.Sprintf("the switch refused MASTER as stale: it has seen a newer generation than this cluster's election (%d); "+
				"a controller outside the cluster, or an etcd rebuilt from scratch? restart ovs-vswitchd on that hypervisor to clear it", r.Generation)
			s.cluster.mu.Lock()
			s.role.reason.Store(&why)
			s.role.expected.Store(false)
			s.cluster.mu.Unlock()
			s.log.WithField("generation", r.Generation).Error(why)
			return
		}
		s.log.WithError(err).Warn("role request MASTER failed; retrying")
		s.retryRoleLater()
		return
	}
	s.cluster.mu.Lock()
	if !s.cluster.latest.Mine || s.cluster.latest.Generation != r.Generation {
		s.cluster.mu.Unlock() // deposed while the request was out
		return
	}
	s.cluster.gen = r.Generation
	s.role.expected.Store(false)
	s.role.since.Store(time.Now().UnixNano())
	s.role.passive.Store(false)
	s.cluster.mu.Unlock()
	s.c.ledWith.Store(s.dpid, r.Generation)
	s.setControllerMeter()
	// Every declaration of the switch goes to the store, also those this
	// instance computed while a slave (the guard dropped them then): the
	// next master adopts a complete set.
	s.c.desired.repersist(s.dpid)
	n, err := s.rec.full(ctx)
	if err != nil && !errors.Is(err, errRejected) {
		s.log.WithError(err).Warn("takeover reconcile failed; the next verify pass retries")
	}
	s.c.stats.takeovers.Add(1)
	s.c.stats.takeoverFlowMods.Add(uint64(n))
	s.log.WithFields(logrus.Fields{"generation": r.Generation, "restored": restored, "flow_mods": n,
		"took": time.Since(start).Round(time.Millisecond)}).Info("master of this switch")
	s.c.Emitf(EventSwitch, s.c.switchName(s.dpid), "master: this instance (generation %d); %d flow-mods to take the desired state", r.Generation, n)
	s.refresh() // the apps recompute the switch from the shared state, as its master now
	// The OVSDB rows (tunnel ports, fail mode) follow within a second:
	// the hypervisors' loop writes them for switches this instance masters.
}

// retryRoleLater acts on the role again in a second.
func (s *session) retryRoleLater() {
	time.AfterFunc(time.Second, func() {
		select {
		case s.cluster.kick <- struct{}{}:
		default:
		}
	})
}

func isStale(err error) bool {
	var em *openflow.ErrorMsg
	return errors.As(err, &em) && em.ErrType == openflow.ErrRoleRequestFailed && em.Code == openflow.RoleStale
}

// clusterConditions name the instance out of contact with etcd.
func (c *Controller) clusterConditions() []apps.Condition {
	if c.cfg.Cluster == nil {
		return nil
	}
	ok, why := c.cfg.Cluster.Healthy()
	if ok {
		return nil
	}
	return []apps.Condition{{Kind: "cluster", Subject: c.cfg.Cluster.Name(), Message: why}}
}

// MasterOf names a switch's master instance; "" outside a cluster.
func (c *Controller) MasterOf(dpid uint64) string {
	if c.cfg.Cluster == nil {
		return ""
	}
	return c.cfg.Cluster.Master(dpid)
}

// Instances lists the cluster's instances (nil outside a cluster).
func (c *Controller) Instances() []cluster.InstanceState {
	if c.cfg.Cluster == nil {
		return nil
	}
	return c.cfg.Cluster.Instances()
}
