package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// EtcdConfig configures the etcd-backed Store that instances of a loomd
// cluster share.
type EtcdConfig struct {
	Client   *clientv3.Client // owned by the caller; Close does not close it
	Prefix   string           // key prefix, default "/loom/"; a missing trailing "/" is added
	Instance string           // this loomd's instance name (topology is kept per instance)
	// Guard names, for a switch, the election key this instance holds as
	// its master and that key's CreateRevision; ok=false when this
	// instance is not master of dpid. A nil Guard is master of nothing:
	// only ExternalApp's declarations are written.
	Guard func(dpid uint64) (key string, rev int64, ok bool)
	// Reached lists, for a switch, the key prefixes that hold a key while
	// any instance reaches or stands for it: ForgetSwitch is refused while
	// one does. Nil: forgetting in the shared store is refused.
	Reached func(dpid uint64) []string
	Timeout time.Duration // per etcd request, default 5s
}

// DefaultEtcdPrefix and DefaultEtcdTimeout are EtcdConfig's defaults.
const (
	DefaultEtcdPrefix  = "/loom/"
	DefaultEtcdTimeout = 5 * time.Second
)

// Etcd is the etcd-backed Store. Each switch's declarations are written
// only by its master (a transaction guarded by the master's election
// key), so an instance that lost mastership cannot overwrite its
// successor's; the API's declarations and networks are shared by all.
type Etcd struct {
	cli      *clientv3.Client
	prefix   string
	instance string
	guard    func(dpid uint64) (string, int64, bool)
	reached  func(dpid uint64) []string
	timeout  time.Duration

	dropped atomic.Uint64

	// netMu is held across every networks request so the remembered
	// revisions change with the write that made them, before the watch
	// looks at that write's event.
	netMu   sync.Mutex
	netRev  int64 // ModRevision of the networks key as last read or written; 0 = absent
	netSeen int64 // the store revision up to which the networks key's state is known

	// extMu is held across every write of ExternalApp declarations, for
	// the same reason, and guards what the watch compares events with.
	extMu sync.Mutex
	ext   map[string]extState // external declarations known, by key
	// observedKnown is every shared observation (KIND/KEY) as last read
	// or watched, so a resync can tell those deleted while the watch was
	// away.
	observedKnown map[string]bool
	extSeen       int64 // the revision of the last full load: older events are known

	base     context.Context // cancelled by Close: ends requests and watches
	cancel   context.CancelFunc
	mu       sync.Mutex // guards the fields below, and wg.Add against Close
	closed   bool
	watching bool
	// cursor is the last revision a watch handled, where the next one
	// resumes; at first the revision the store was opened at, so a watch
	// misses nothing written after the caller's first loads.
	cursor int64
	wg     sync.WaitGroup
}

// extState is what this store knows of one external declaration: the
// revision of its last write known (by a load, a watch event or this
// store's own write) and whether that write deleted it. A deletion is
// kept until the watch sees it, so the watch can tell it is this
// store's own and that older events of the key are stale.
type extState struct {
	rev  int64
	gone bool
}

var _ Store = (*Etcd)(nil)

var errEtcdClosed = errors.New("etcd store is closed")

// OpenEtcd checks (creating it on a fresh prefix) the schema version and
// returns the store. ctx bounds the opening requests.
func OpenEtcd(ctx context.Context, cfg EtcdConfig) (*Etcd, error) {
	if cfg.Client == nil {
		return nil, errors.New("etcd store: no client")
	}
	if cfg.Instance == "" {
		return nil, errors.New("etcd store: no instance name (the topology is kept per instance)")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultEtcdPrefix
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultEtcdTimeout
	}
	base, cancel := context.WithCancel(context.Background())
	e := &Etcd{cli: cfg.Client, prefix: cfg.Prefix, instance: cfg.Instance, guard: cfg.Guard, reached: cfg.Reached,
		timeout: cfg.Timeout, ext: map[string]extState{}, observedKnown: map[string]bool{}, base: base, cancel: cancel}
	rev, err := e.checkSchema(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	e.cursor = rev
	return e, nil
}

// checkSchema creates the schema key on a fresh prefix (only if absent,
// so two instances starting together agree) or checks the stored one. It
// returns the store's revision at that moment.
func (e *Etcd) checkSchema(ctx context.Context) (int64, error) {
	k := e.prefix + "meta/" + keySchema
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, strconv.Itoa(SchemaVersion))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("etcd key %s: %w", k, err)
	}
	if resp.Succeeded {
		return resp.Header.Revision, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 { // the compare said it exists and a txn is atomic: cannot be
		return 0, fmt.Errorf("etcd key %s: vanished while read", k)
	}
	v := string(kvs[0].Value)
	got, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("etcd key %s holds %q, not a schema version: is prefix %s Loom's?", k, v, e.prefix)
	}
	switch {
	case got > SchemaVersion:
		return 0, fmt.Errorf("%w: etcd prefix %s has version %d, this build reads up to %d", ErrNewerSchema, e.prefix, got, SchemaVersion)
	case got < SchemaVersion:
		// No etcd layout older than 1 exists; a migration would go here.
		return 0, fmt.Errorf("etcd prefix %s has schema %d: no migration to %d", e.prefix, got, SchemaVersion)
	}
	return resp.Header.Revision, nil
}

// Schema returns the prefix's schema version.
func (e *Etcd) Schema() (uint32, error) {
	k := e.prefix + "meta/" + keySchema
	ctx, cancel := e.request()
	defer cancel()
	resp, err := e.cli.Get(ctx, k)
	if err != nil {
		return 0, e.fail(k, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("etcd key %s is absent", k)
	}
	v, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("etcd key %s holds %q, not a schema version", k, resp.Kvs[0].Value)
	}
	return uint32(v), nil
}

// Close stops the watches and waits for them; requests still running
// fail. The client stays open: it is the caller's.
func (e *Etcd) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	return nil
}

// request is the context of one etcd request: bounded by the timeout so
// nothing hangs when etcd is down, and ended by Close.
func (e *Etcd) request() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.base, e.timeout)
}

// fail names the key a request was about, and says so when the failure
// is the store being closed rather than etcd.
func (e *Etcd) fail(key string, err error) error {
	if e.base.Err() != nil {
		return fmt.Errorf("etcd key %s: %w", key, errEtcdClosed)
	}
	if !refusedOutright(err) {
		// A timeout, a lost connection, a leader that changed: the request
		// may be in etcd's log already and commit later.
		return fmt.Errorf("etcd key %s: %w: %w", key, ErrIndeterminate, err)
	}
	return fmt.Errorf("etcd key %s: %w", key, err)
}

// refusedOutright says whether etcd refused a request before it could be
// committed: only then did nothing change for sure.
func refusedOutright(err error) bool {
	for _, definite := range []error{rpctypes.ErrEmptyKey, rpctypes.ErrTooManyOps, rpctypes.ErrDuplicateKey,
		rpctypes.ErrNoSpace, rpctypes.ErrRequestTooLarge, rpctypes.ErrPermissionDenied} {
		if errors.Is(err, definite) {
			return true
		}
	}
	return false
}
