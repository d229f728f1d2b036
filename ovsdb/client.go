package ovsdb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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

// Client is the connection to one hypervisor's OVSDB. Run keeps it
// connected; Snapshot reads the monitored tables from the local cache.
type Client struct {
	name     string
	endpoint string
	tls      *tls.Config
	log      *logrus.Entry

	mu      sync.Mutex
	c       client.Client // nil until the first connect succeeds
	changed chan struct{}
	ready   chan struct{}
}

// New checks the endpoint and returns a client that is not yet connected.
// tlsCfg is required for ssl: endpoints and ignored otherwise.
func New(name, endpoint string, tlsCfg *tls.Config, log *logrus.Entry) (*Client, error) {
	scheme, _, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("hypervisor %s: %w", name, err)
	}
	if scheme == "ssl" && tlsCfg == nil {
		return nil, fmt.Errorf("hypervisor %s: endpoint %s needs TLS settings", name, endpoint)
	}
	return &Client{name: name, endpoint: endpoint, tls: tlsCfg,
		log:     log.WithFields(logrus.Fields{"hypervisor": name, "ovsdb": endpoint}),
		changed: make(chan struct{}, 1), ready: make(chan struct{})}, nil
}

// Changed is signalled after the cache changes.
func (c *Client) Changed() <-chan struct{} { return c.changed }

// Ready is closed once the first connect and monitor have succeeded.
func (c *Client) Ready() <-chan struct{} { return c.ready }

// Run connects, monitors, and reconnects with backoff until ctx ends. A
// failure is logged once per attempt, with the reason; the rest of Loom
// carries on without this hypervisor meanwhile.
func (c *Client) Run(ctx context.Context) {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxInterval, bo.MaxElapsedTime = 250*time.Millisecond, 30*time.Second, 0
	last := ""
	for attempt := 1; ; attempt++ {
		err := c.connect(ctx)
		if err == nil {
			c.log.WithField("attempts", attempt).Info("OVSDB connected and monitored")
			break
		}
		wait := bo.NextBackOff()
		// One warning per distinct failure; the retries behind it are debug.
		entry := c.log.WithError(err).WithFields(logrus.Fields{"retry_in": wait.Round(time.Millisecond), "attempt": attempt})
		if err.Error() != last {
			entry.Warn("OVSDB connection failed")
		} else {
			entry.Debug("OVSDB connection failed")
		}
		last = err.Error()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
	<-ctx.Done()
	c.mu.Lock()
	cl := c.c
	c.mu.Unlock()
	cl.Close()
}

func (c *Client) connect(ctx context.Context) error {
	dbModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		return err
	}
	quiet := logr.Discard()
	opts := []client.Option{client.WithEndpoint(c.endpoint), client.WithLogger(&quiet),
		client.WithReconnect(5*time.Second, backoff.NewExponentialBackOff())}
	if c.tls != nil {
		opts = append(opts, client.WithTLSConfig(c.tls))
	}
	cl, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return err
	}
	cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.notify() },
		UpdateFunc: func(string, model.Model, model.Model) { c.notify() },
		DeleteFunc: func(string, model.Model) { c.notify() },
	})
	_, err = cl.Monitor(cctx, cl.NewMonitor(
		client.WithTable(&vswitch.OpenvSwitch{}),
		client.WithTable(&vswitch.Bridge{}),
		client.WithTable(&vswitch.Port{}),
		client.WithTable(&vswitch.Interface{}),
	))
	if err != nil {
		cl.Close()
		return fmt.Errorf("monitor: %w", err)
	}
	c.mu.Lock()
	c.c = cl
	c.mu.Unlock()
	close(c.ready)
	c.notify()
	return nil
}

func (c *Client) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Client) client() (client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil || !c.c.Connected() {
		return nil, fmt.Errorf("hypervisor %s: OVSDB %s not connected", c.name, c.endpoint)
	}
	return c.c, nil
}

// Snapshot reads the hypervisor from the cache.
func (c *Client) Snapshot() (Hypervisor, error) {
	cl, err := c.client()
	if err != nil {
		return Hypervisor{Name: c.name}, err
	}
	h := Hypervisor{Name: c.name}
	ca := cl.Cache()
	for _, m := range ca.Table("Open_vSwitch").Rows() {
		o := m.(*vswitch.OpenvSwitch)
		h.SystemID, h.Hostname = o.ExternalIDs["system-id"], o.ExternalIDs["hostname"]
		h.TunnelIP = o.ExternalIDs["loom-tunnel-ip"]
	}
	ports, ifaces := ca.Table("Port"), ca.Table("Interface")
	for uuid, m := range ca.Table("Bridge").Rows() {
		b := m.(*vswitch.Bridge)
		br := Bridge{UUID: uuid, Name: b.Name, LoomOwned: b.ExternalIDs[ownerKey]}
		if b.FailMode != nil {
			br.FailMode = *b.FailMode
		}
		if b.DatapathID != nil {
			br.DPID, _ = strconv.ParseUint(*b.DatapathID, 16, 64)
		}
		for _, pu := range b.Ports {
			pm := ports.Row(pu)
			if pm == nil {
				continue
			}
			p := pm.(*vswitch.Port)
			port := Port{Name: p.Name, LoomOwned: p.ExternalIDs[ownerKey]}
			if p.Tag != nil {
				port.Tag = *p.Tag
			}
			if len(p.Interfaces) > 0 {
				if im := ifaces.Row(p.Interfaces[0]); im != nil {
					fillInterface(&port, im.(*vswitch.Interface))
				}
			}
			br.Ports = append(br.Ports, port)
		}
		sort.Slice(br.Ports, func(i, j int) bool { return br.Ports[i].Name < br.Ports[j].Name })
		h.Bridges = append(h.Bridges, br)
	}
	sort.Slice(h.Bridges, func(i, j int) bool { return h.Bridges[i].Name < h.Bridges[j].Name })
	return h, nil
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
}

// ErrNoBridge is returned for a bridge the hypervisor does not have.
var ErrNoBridge = errors.New("no such bridge")

// EnsureFailSecure sets fail_mode=secure on a bridge Loom controls, so
// the bridge forwards nothing on its own when Loom is away, and stamps
// external_ids:loom-owned=fail_mode to say Loom made that choice. A
// bridge already secure is left untouched.
func (c *Client) EnsureFailSecure(ctx context.Context, bridge string) (changed bool, err error) {
	cl, err := c.client()
	if err != nil {
		return false, err
	}
	b := &vswitch.Bridge{Name: bridge}
	if err := cl.Get(ctx, b); err != nil {
		return false, fmt.Errorf("hypervisor %s: bridge %s: %w", c.name, bridge, ErrNoBridge)
	}
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
		return false, fmt.Errorf("hypervisor %s: bridge %s: setting fail_mode=secure: %w", c.name, bridge, err)
	}
	for _, r := range res {
		if r.Error != "" {
			return false, fmt.Errorf("hypervisor %s: bridge %s: setting fail_mode=secure: %s: %s", c.name, bridge, r.Error, r.Details)
		}
	}
	c.log.WithField("bridge", bridge).Info("set fail_mode=secure on a bridge Loom controls")
	return true, nil
}
