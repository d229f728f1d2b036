package ovsdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// Loom's stamp on rows it changed or created.
const ownerKey = "loom-owned"

// DefaultProbeInterval is how often a client probes its server with an
// OVSDB echo; a server that leaves a probe unanswered for one interval is
// disconnected, so a dead or hung server is noticed within two.
const DefaultProbeInterval = 5 * time.Second

// Client is the connection to one hypervisor's OVSDB. Run keeps it
// connected; Snapshot reads the monitored tables from the local cache.
type Client struct {
	name     string
	endpoint string
	tls      *tls.Config
	log      *logrus.Entry

	probe          time.Duration // inactivity probe interval
	connectTimeout time.Duration // one attempt: dial, schema and monitor
	backoffMin     time.Duration // first wait after a failure
	backoffMax     time.Duration // longest wait between attempts

	mu        sync.Mutex
	sess      *session // nil while not connected
	health    ClientHealth
	changed   chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
}

// ClientHealth is the state of a client's connection, for health reports
// ("ovsdb kvm02: no reply for 10s").
type ClientHealth struct {
	Connected bool
	// Since is when the client last connected or lost its connection (or,
	// never connected, when Run started).
	Since time.Time
	// LastReply is when the server last answered: the monitor on connect,
	// then every inactivity probe. Zero if it never has.
	LastReply time.Time
	// LastError says why the client is not connected: the last attempt's
	// failure, or what ended the connection. Empty while connected.
	LastError string
	// Attempts counts the attempts that failed since the client was last
	// connected (or started).
	Attempts int
	// ProbeInterval is the inactivity probe's interval: a connected server
	// has answered within the last two.
	ProbeInterval time.Duration
}

// session is one connection: a libovsdb client that is discarded, never
// reconnected, when the connection ends.
type session struct {
	cl client.Client
	// ctx ends with the session; operations on it end with it.
	ctx    context.Context
	cancel context.CancelCauseFunc
	// rejected holds what the server sent that libovsdb refused (the
	// connection is being closed).
	rejected chan error
}

func (s *session) reject(err error) {
	select {
	case s.rejected <- err:
	default:
	}
}

// refusedError is a failure caused by something the server sent that
// libovsdb (the fork) refused: logged as an error, not a warning.
type refusedError struct{ error }

func (e refusedError) Unwrap() error { return e.error }

// level is the log level of a failure.
func level(err error) logrus.Level {
	var r refusedError
	if errors.As(err, &r) {
		return logrus.ErrorLevel
	}
	return logrus.WarnLevel
}

// Option changes a client made by New.
type Option func(*Client)

// WithProbeInterval sets the inactivity probe interval (DefaultProbeInterval
// when d <= 0).
func WithProbeInterval(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.probe = d
		}
	}
}

// New checks the endpoint and returns a client that is not yet connected.
// tlsCfg is required for ssl: endpoints and ignored otherwise.
func New(name, endpoint string, tlsCfg *tls.Config, log *logrus.Entry, opts ...Option) (*Client, error) {
	scheme, _, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("hypervisor %s: %w", name, err)
	}
	if scheme == "ssl" && tlsCfg == nil {
		return nil, fmt.Errorf("hypervisor %s: endpoint %s needs TLS settings", name, endpoint)
	}
	c := &Client{name: name, endpoint: endpoint, tls: tlsCfg,
		log:   log.WithFields(logrus.Fields{"hypervisor": name, "ovsdb": endpoint}),
		probe: DefaultProbeInterval, connectTimeout: 10 * time.Second,
		backoffMin: 250 * time.Millisecond, backoffMax: 30 * time.Second,
		changed: make(chan struct{}, 1), ready: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	c.health.ProbeInterval = c.probe
	return c, nil
}

// Changed is signalled after the cache changes, and when the client
// connects or loses its connection.
func (c *Client) Changed() <-chan struct{} { return c.changed }

// Ready is closed once the first connect and monitor have succeeded.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Health returns the state of the client's connection.
func (c *Client) Health() ClientHealth {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.health
}

// Run connects, monitors, probes, and reconnects with backoff until ctx
// ends, and returns only then, so its owner can wait for it (the
// controller runs it in a group); it never gives up. A failure is logged
// once per distinct reason (the retries behind it at debug), a lost
// connection once, with what ended it. Each connection is a fresh
// libovsdb client: Loom, not libovsdb, reconnects, so no library loop can
// give up or panic.
func (c *Client) Run(ctx context.Context) {
	c.mu.Lock()
	if c.health.Since.IsZero() {
		c.health.Since = time.Now()
	}
	c.mu.Unlock()
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval = c.backoffMin, c.backoffMax
	bo.MaxElapsedTime = 0 // never stop retrying
	bo.Reset()
	last := ""
	for attempt := 1; ; attempt++ {
		s, err := c.connect(ctx)
		if ctx.Err() != nil {
			if s != nil {
				c.down(s, ctx.Err())
			}
			return
		}
		var wait time.Duration
		if err == nil {
			c.log.WithField("attempts", attempt).Info("OVSDB connected and monitored")
			start := time.Now()
			c.up(s)
			err = c.serve(ctx, s)
			c.down(s, err)
			if ctx.Err() != nil {
				return
			}
			// A connection that lasted is a fresh start; one the server
			// ends at once (refusing what it sends, say) keeps backing
			// off, or a hostile server would get a tight reconnect loop.
			if time.Since(start) > c.probe {
				bo.Reset()
			}
			wait = bo.NextBackOff()
			c.log.WithError(err).WithField("retry_in", wait.Round(time.Millisecond)).Log(level(err), "OVSDB connection lost; reconnecting")
			attempt, last = 0, ""
		} else {
			c.failed(err)
			wait = bo.NextBackOff()
			// One warning per distinct failure; the retries behind it are debug.
			entry := c.log.WithError(err).WithFields(logrus.Fields{"retry_in": wait.Round(time.Millisecond), "attempt": attempt})
			if err.Error() != last {
				entry.Log(level(err), "OVSDB connection failed")
			} else {
				entry.Debug("OVSDB connection failed")
			}
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// connect makes one attempt: dial, check the schema against Loom's
// models, monitor. The libovsdb fork turns anything malformed from the
// server into an error; the recover is the last line, for a case it misses.
func (c *Client) connect(ctx context.Context) (s *session, err error) {
	dbModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	sess := &session{rejected: make(chan error, 1)}
	quiet := logr.Discard()
	opts := []client.Option{client.WithEndpoint(c.endpoint), client.WithLogger(&quiet),
		client.WithProtocolErrorHandler(sess.reject)}
	if c.tls != nil {
		opts = append(opts, client.WithTLSConfig(c.tls))
	}
	cl, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = refusedError{fmt.Errorf("refused the server's input: %v", r)}
		}
		if err != nil {
			select {
			case <-sess.rejected:
				err = refusedError{err} // the error says what was refused
			default:
			}
			// Never wait on a client that failed: the close is this
			// connection's own, bounded (it waits for the calls in
			// flight, which end with their contexts or the codec's
			// write timeout), and a hung server cannot hold the next try.
			go cl.Close()
			s = nil
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return nil, err
	}
	ca := cl.Cache()
	if ca == nil {
		return nil, errors.New("connection lost during connect")
	}
	ca.AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.notify() },
		UpdateFunc: func(string, model.Model, model.Model) { c.notify() },
		DeleteFunc: func(string, model.Model) { c.notify() },
	})
	// Of the Controller table only the target: it says whom a bridge
	// answers to (Bridge.Controllers); its status columns change every few
	// seconds and would wake every reader for nothing.
	ctrl := &vswitch.Controller{}
	_, err = cl.Monitor(cctx, cl.NewMonitor(
		client.WithTable(&vswitch.OpenvSwitch{}),
		client.WithTable(ctrl, &ctrl.Target),
		client.WithTable(&vswitch.Bridge{}),
		client.WithTable(&vswitch.Port{}),
		client.WithTable(&vswitch.Interface{}),
		// The rows a bridge refers to by one column (attached.go).
		client.WithTable(&vswitch.SFlow{}),
		client.WithTable(&vswitch.NetFlow{}),
		client.WithTable(&vswitch.IPFIX{}),
		client.WithTable(&vswitch.Mirror{}),
		client.WithTable(&vswitch.QoS{}),
	))
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	sess.cl = cl
	sess.ctx, sess.cancel = context.WithCancelCause(context.Background())
	return sess, nil
}

// serve watches a connected session until it ends, and says why: ctx
// ended, the server closed the connection or sent something libovsdb
// refused, or it left an inactivity probe unanswered for one interval.
// A probe goes out every interval, so a server that stops answering is
// noticed within two intervals of its last reply.
func (c *Client) serve(ctx context.Context, s *session) error {
	// ended says why the connection ended: a refusal closes it too, and
	// its reason is the better one.
	ended := func(otherwise error) error {
		select {
		case err := <-s.rejected:
			return refusedError{fmt.Errorf("closed the connection: %w", err)}
		default:
			return otherwise
		}
	}
	if !s.cl.Connected() { // lost before anyone listened for it
		return ended(errors.New("the connection ended as it was made"))
	}
	tick := time.NewTicker(c.probe)
	defer tick.Stop()
	var replied chan error // the probe in flight, if any
	var deadline <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-s.rejected:
			return refusedError{fmt.Errorf("closed the connection: %w", err)}
		case <-s.cl.DisconnectNotify():
			return ended(errors.New("the server closed the connection"))
		case <-tick.C:
			if replied != nil {
				continue
			}
			replied = make(chan error, 1)
			// The probe is this session's: bounded by one interval and
			// by s.ctx, which down cancels, so it ends with the session;
			// its buffered reply never blocks it.
			go func(done chan<- error) {
				pctx, cancel := context.WithTimeout(s.ctx, c.probe)
				defer cancel()
				done <- s.cl.Echo(pctx)
			}(replied)
			deadline = time.After(c.probe)
		case err := <-replied:
			replied, deadline = nil, nil
			if err != nil {
				return ended(fmt.Errorf("inactivity probe: %w", err))
			}
			c.mu.Lock()
			c.health.LastReply = time.Now()
			c.mu.Unlock()
		case <-deadline:
			return fmt.Errorf("no reply to the inactivity probe (echo) within %s", c.probe)
		}
	}
}

// up makes s the current session.
func (c *Client) up(s *session) {
	now := time.Now()
	c.mu.Lock()
	c.sess = s
	c.health.Connected, c.health.Since, c.health.LastReply = true, now, now
	c.health.LastError, c.health.Attempts = "", 0
	c.mu.Unlock()
	c.readyOnce.Do(func() { close(c.ready) })
	c.notify()
}

// down ends session s for reason err: its operations are cancelled and
// its libovsdb client closed (in the background: a hung server must not
// hold up the reconnect).
func (c *Client) down(s *session, err error) {
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
		c.health.Connected, c.health.Since = false, time.Now()
		c.health.LastError = err.Error()
	}
	c.mu.Unlock()
	s.cancel(err)
	go s.cl.Close() // the session's own and bounded (see connect); its operations are cancelled just above
	c.notify()
}

// failed records a failed attempt.
func (c *Client) failed(err error) {
	c.mu.Lock()
	c.health.LastError = err.Error()
	c.health.Attempts++
	c.mu.Unlock()
}

func (c *Client) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// current returns the connected session, or an error that says why there
// is none.
func (c *Client) current() (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		if c.health.LastError != "" {
			return nil, fmt.Errorf("hypervisor %s: OVSDB %s not connected: %s", c.name, c.endpoint, c.health.LastError)
		}
		return nil, fmt.Errorf("hypervisor %s: OVSDB %s not connected", c.name, c.endpoint)
	}
	return c.sess, nil
}

// op returns the connected client and a context for one operation on it:
// ctx, also cancelled when the connection ends (a hung server does not
// hold up the caller until its own timeout).
func (c *Client) op(ctx context.Context) (client.Client, context.Context, context.CancelFunc, error) {
	s, err := c.current()
	if err != nil {
		return nil, nil, nil, err
	}
	octx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.ctx, func() {
		cancel(fmt.Errorf("OVSDB connection lost: %w", context.Cause(s.ctx)))
	})
	return s.cl, octx, func() { stop(); cancel(nil) }, nil
}

// opError is err, or why ctx ended when it has: libovsdb only says
// "context canceled".
func opError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// Snapshot reads the hypervisor from the cache.
func (c *Client) Snapshot() (Hypervisor, error) {
	h := Hypervisor{Name: c.name}
	s, err := c.current()
	if err != nil {
		return h, err
	}
	ca := s.cl.Cache()
	if ca == nil {
		return h, fmt.Errorf("hypervisor %s: OVSDB %s not connected", c.name, c.endpoint)
	}
	return snapshotFrom(c.name, ca), nil
}

// snapshotFrom reads hypervisor name from a cache.
func snapshotFrom(name string, ca *cache.TableCache) Hypervisor {
	h := Hypervisor{Name: name}
	rows := func(table string) map[string]model.Model {
		if t := ca.Table(table); t != nil {
			return t.Rows()
		}
		return nil
	}
	row := func(table, uuid string) model.Model {
		if t := ca.Table(table); t != nil {
			return t.Row(uuid)
		}
		return nil
	}
	for _, m := range rows("Open_vSwitch") {
		if o, ok := m.(*vswitch.OpenvSwitch); ok {
			h.SystemID, h.Hostname = o.ExternalIDs["system-id"], o.ExternalIDs["hostname"]
			h.TunnelIP = o.ExternalIDs["loom-tunnel-ip"]
		}
	}
	for uuid, m := range rows("Bridge") {
		b, ok := m.(*vswitch.Bridge)
		if !ok {
			continue
		}
		br := Bridge{UUID: uuid, Name: b.Name, LoomOwned: b.ExternalIDs[ownerKey]}
		if b.FailMode != nil {
			br.FailMode = *b.FailMode
		}
		if b.DatapathID != nil {
			br.DPID, _ = strconv.ParseUint(*b.DatapathID, 16, 64)
		}
		for i, cu := range b.Controller {
			if i == maxControllers {
				break // a bridge with more controllers than that is hostile: the rest are not read
			}
			if ct, ok := row("Controller", cu).(*vswitch.Controller); ok {
				br.Controllers = append(br.Controllers, ct.Target)
			}
		}
		sort.Strings(br.Controllers)
		readAttached(&br, b, row)
		for _, pu := range b.Ports {
			p, ok := row("Port", pu).(*vswitch.Port)
			if !ok {
				continue
			}
			port := Port{UUID: pu, Name: p.Name, LoomOwned: p.ExternalIDs[ownerKey]}
			if p.Tag != nil {
				port.Tag = *p.Tag
			}
			if len(p.Interfaces) > 0 {
				if i, ok := row("Interface", p.Interfaces[0]).(*vswitch.Interface); ok {
					fillInterface(&port, i)
				}
			}
			readPortAttached(&port, p, row)
			br.Ports = append(br.Ports, port)
		}
		sort.Slice(br.Ports, func(i, j int) bool { return br.Ports[i].Name < br.Ports[j].Name })
		h.Bridges = append(h.Bridges, br)
	}
	sort.Slice(h.Bridges, func(i, j int) bool { return h.Bridges[i].Name < h.Bridges[j].Name })
	return h
}

func fillInterface(p *Port, i *vswitch.Interface) {
	p.Type = i.Type
	if i.Ofport != nil {
		p.OfPort = *i.Ofport
	}
	if i.MACInUse != nil {
		p.MAC = *i.MACInUse
	}
	p.LinkUp = i.LinkState != nil && *i.LinkState == vswitch.InterfaceLinkStateUp
	p.AttachedMAC = i.ExternalIDs["attached-mac"]
	p.IfaceID = i.ExternalIDs["iface-id"]
	p.VMUUID = i.ExternalIDs["vm-uuid"]
	p.IfaceStatus = i.ExternalIDs["iface-status"]
	p.PatchPeer = i.Options["peer"]
	p.RemoteIP, p.Key = i.Options["remote_ip"], i.Options["key"]
	if p.LoomOwned != "" {
		p.Options = maps.Clone(i.Options)
	}
}

// maxControllers is how many controller targets of one bridge are read.
const maxControllers = 16

// bridgeOp starts an operation on bridge (op), with the bridge's row.
func (c *Client) bridgeOp(ctx context.Context, bridge string) (client.Client, context.Context, context.CancelFunc, *vswitch.Bridge, error) {
	cl, ctx, done, err := c.op(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	b := &vswitch.Bridge{Name: bridge}
	if err := cl.Get(ctx, b); err != nil {
		done()
		return nil, nil, nil, nil, fmt.Errorf("hypervisor %s: bridge %s: %w", c.name, bridge, ErrNoBridge)
	}
	return cl, ctx, done, b, nil
}

// ErrNoBridge is returned for a bridge the hypervisor does not have.
var ErrNoBridge = errors.New("no such bridge")

// EnsureFailSecure sets fail_mode=secure on a bridge Loom controls, so
// the bridge forwards nothing on its own when Loom is away, and stamps
// external_ids:loom-owned=fail_mode to say Loom made that choice. A
// bridge already secure is left untouched.
func (c *Client) EnsureFailSecure(ctx context.Context, bridge string) (changed bool, err error) {
	cl, ctx, done, b, err := c.bridgeOp(ctx, bridge)
	if err != nil {
		return false, err
	}
	defer done()
	if b.FailMode != nil && *b.FailMode == vswitch.BridgeFailModeSecure {
		return false, nil
	}
	secure := vswitch.BridgeFailModeSecure
	b.FailMode = &secure
	if b.ExternalIDs == nil {
		b.ExternalIDs = map[string]string{}
	}
	b.ExternalIDs[ownerKey] = "fail_mode"
	ops, err := cl.Where(b).Update(b, &b.FailMode, &b.ExternalIDs)
	if err != nil {
		return false, err
	}
	res, err := cl.Transact(ctx, ops...)
	if err != nil {
		return false, fmt.Errorf("hypervisor %s: bridge %s: setting fail_mode=secure: %w", c.name, bridge, opError(ctx, err))
	}
	for _, r := range res {
		if r.Error != "" {
			return false, fmt.Errorf("hypervisor %s: bridge %s: setting fail_mode=secure: %s: %s", c.name, bridge, r.Error, r.Details)
		}
	}
	c.log.WithField("bridge", bridge).Info("set fail_mode=secure on a bridge Loom controls")
	return true, nil
}
