package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Config says how an instance joins the cluster.
type Config struct {
	Endpoints []string // etcd client URLs
	TLS       *tls.Config
	// Self is this instance as the others see it; Self.Name is required.
	Self Instance
	// Lease is how long an instance that stops answering stays master of
	// its switches (whole seconds; default 3s, at least 2s).
	Lease time.Duration
	// RebalanceAfter is how long a newly preferred instance's candidacy
	// must stand before a master hands it the switch (default 5s).
	RebalanceAfter time.Duration
	// Prefix is the root of Loom's keys (default /loom/); the cluster's
	// own are under Prefix + "cluster/".
	Prefix string
	Log    *logrus.Entry
}

// Role is an instance's standing for one switch.
type Role struct {
	// Mine says this instance is the switch's master.
	Mine bool
	// Generation is the master's election revision (this instance's when
	// Mine; 0 when the switch has no master).
	Generation uint64
	// Holder names the master instance ("" when none).
	Holder string
	// Why says what changed, for the log.
	Why string
}

// Node is this instance's membership of the cluster.
type Node struct {
	cfg    Config
	cli    *clientv3.Client
	log    *logrus.Entry
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	k      keys

	mu      sync.Mutex
	m       *model
	fresh   bool // the model follows a live watch
	lease   clientv3.LeaseID
	lastAck time.Time // the lease's last renewal
	// published are the keys written under the current lease.
	published map[string]bool
	local     map[uint64]*local
	noLeader  map[uint64]time.Time // since when a reached switch has had no leader
	handing   map[uint64]bool      // switches this instance leads and is handing over
	nextID    uint64
	writeErr  error     // the last failed sync, for the log
	announced time.Time // when the instance key was last written
	// epochRev is the revision at which this lease claimed the name:
	// every candidacy of this lease is later, so one at or before it is a
	// previous lease's, which a model not yet caught up after a cut from
	// etcd may still show. It never makes this instance master.
	epochRev int64
	closing  bool // Close began: master of nothing
}

// local is a switch this instance has a session to, or had until a
// moment ago (gone: see Reach).
type local struct {
	id    uint64
	roles func(Role)
	sent  Role
	told  bool
	gone  time.Time // when its session ended; zero while it lives
}

// Start connects to etcd and joins the cluster in the background; it
// fails only on a configuration error. The instance is master of nothing
// until its lease is granted and its watch has read the cluster.
func Start(cfg Config) (*Node, error) {
	if cfg.Self.Name == "" {
		return nil, errors.New("cluster: instance name is empty")
	}
	if strings.ContainsAny(cfg.Self.Name, "/ \t\n") {
		return nil, fmt.Errorf("cluster: instance name %q: no slashes or spaces", cfg.Self.Name)
	}
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("cluster: no etcd endpoints")
	}
	if cfg.Lease == 0 {
		cfg.Lease = 3 * time.Second
	}
	if cfg.Lease < 2*time.Second {
		return nil, fmt.Errorf("cluster: lease %s is below 2s: a busy etcd would depose masters", cfg.Lease)
	}
	cfg.Lease = cfg.Lease.Truncate(time.Second)
	if cfg.RebalanceAfter == 0 {
		cfg.RebalanceAfter = 5 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/loom/"
	}
	if cfg.Log == nil {
		cfg.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	cfg.Self.Started = time.Now().UTC()
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, TLS: cfg.TLS, DialTimeout: cfg.Lease,
		DialKeepAliveTime: cfg.Lease, DialKeepAliveTimeout: cfg.Lease, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{cfg: cfg, cli: cli, log: cfg.Log.WithField("instance", cfg.Self.Name), ctx: ctx, cancel: cancel,
		kick: make(chan struct{}, 1), k: keys{cfg.Prefix + "cluster/"}, m: newModel(cfg.Prefix + "cluster/"), published: map[string]bool{},
		local: map[uint64]*local{}, noLeader: map[uint64]time.Time{}, handing: map[uint64]bool{}}
	n.wg.Add(4)
	go func() { defer n.wg.Done(); n.leaseLoop(ctx) }()
	go func() { defer n.wg.Done(); n.watchLoop(ctx) }()
	go func() { defer n.wg.Done(); n.manageLoop(ctx) }()
	go func() { defer n.wg.Done(); n.watchdog(ctx) }()
	return n, nil
}

// Name is this instance's name.
func (n *Node) Name() string { return n.cfg.Self.Name }

// Client is the etcd client, for the shared store.
func (n *Node) Client() *clientv3.Client { return n.cli }

// Lease is the configured lease.
func (n *Node) Lease() time.Duration { return n.cfg.Lease }

// Reach registers a session of this instance to dpid. roles is told this
// instance's role for the switch now and at every change, from the
// cluster's goroutine: it must not block. release ends the registration.
func (n *Node) Reach(dpid uint64, roles func(Role)) (release func()) {
	n.mu.Lock()
	n.nextID++
	id := n.nextID
	n.local[dpid] = &local{id: id, roles: roles}
	n.mu.Unlock()
	n.poke()
	// The reach and candidacy outlive the session by a lease: a switch
	// whose connection bounces is back before then, and keeps its master
	// rather than moving away and back (and the last declarations of a
	// stopping master still pass the guard).
	return func() {
		n.mu.Lock()
		if l := n.local[dpid]; l != nil && l.id == id {
			l.gone, l.roles = time.Now(), nil
		}
		n.mu.Unlock()
		n.poke()
	}
}

// Guard names the election key this instance masters dpid with, and its
// create revision; ok is false when it is not dpid's master. Writes that
// only a master may make compare on it.
func (n *Node) Guard(dpid uint64) (key string, rev int64, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.m.leader(dpid)
	if !ok || c.instance != n.cfg.Self.Name || c.rev <= n.epochRev || !n.liveLocked(time.Now()) {
		return "", 0, false
	}
	return c.key, c.rev, true
}

// Reached lists the key prefixes that hold a key while any instance
// reaches dpid or stands for its mastership: a write that is only safe
// for a switch nobody holds (forgetting it) compares them empty.
func (n *Node) Reached(dpid uint64) []string {
	return []string{n.k.reachKey(dpid, ""), n.k.masterKey(dpid, "")}
}

// Master names dpid's master instance, "" when it has none.
func (n *Node) Master(dpid uint64) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, _ := n.m.leader(dpid)
	return c.instance
}

// InstanceState is an instance and how it stands.
type InstanceState struct {
	Instance
	State string // "live", or for this instance "joining" / "lost contact with etcd"
	Self  bool
}

// Instances lists the cluster's instances by name, with how many switches
// each masters.
func (n *Node) Instances() []InstanceState {
	n.mu.Lock()
	defer n.mu.Unlock()
	masters := map[string]int{}
	for dpid := range n.m.cands {
		if c, ok := n.m.leader(dpid); ok {
			masters[c.instance]++
		}
	}
	var out []InstanceState
	for name, in := range n.m.instances {
		in.Masters = masters[name]
		out = append(out, InstanceState{Instance: in, State: "live", Self: name == n.cfg.Self.Name})
	}
	if _, ok := n.m.instances[n.cfg.Self.Name]; !ok || !n.liveLocked(time.Now()) {
		state := "joining"
		if !n.lastAck.IsZero() {
			state = "lost contact with etcd"
		}
		out = deleteNamed(out, n.cfg.Self.Name)
		self := n.cfg.Self
		self.Masters = masters[self.Name]
		out = append(out, InstanceState{Instance: self, State: state, Self: true})
	}
	sortInstances(out)
	return out
}

// Healthy says whether this instance is in contact with etcd, and if not why.
func (n *Node) Healthy() (bool, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.liveLocked(time.Now()) && n.fresh {
		return true, ""
	}
	if n.writeErr != nil {
		return false, "no contact with etcd: " + n.writeErr.Error()
	}
	return false, fmt.Sprintf("no contact with etcd (%s): master of no switch until it returns", strings.Join(n.cfg.Endpoints, ","))
}

// Close leaves the cluster: the lease is revoked, so the other instances
// take this one's switches at once instead of after the lease.
func (n *Node) Close() {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
	n.stepDownAll("loomd is stopping") // before the lease goes: no write after another wins
	n.cancel()
	n.wg.Wait()
	n.cli.Close()
}

func (n *Node) poke() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// liveLocked says whether the lease was renewed recently enough that it
// cannot have expired: two thirds of its TTL. n.mu is held.
func (n *Node) liveLocked(now time.Time) bool {
	return n.lease != 0 && now.Sub(n.lastAck) < n.cfg.Lease*2/3
}

func (n *Node) instanceValue() string {
	data, _ := json.Marshal(n.cfg.Self)
	return string(data)
}
