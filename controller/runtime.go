package controller

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// The runtime's surface for the services over it (controller/policy,
// controller/northbound): what they may read and ask, and nothing of how
// sessions, the registry or the desired store work. Whatever touches a
// session's own state runs on that session's goroutine (session.do).

// Topology is the model the controller keeps up to date (nil: none).
func (c *Controller) Topology() *topology.Topology { return c.cfg.Topology }

// Now is the controller's clock.
func (c *Controller) Now() time.Time { return c.now() }

// Apps are the apps in the order they run.
func (c *Controller) Apps() []apps.App { return append([]apps.App(nil), c.apps...) }

// Connection is a ready switch session.
type Connection struct {
	DPID   uint64
	Remote string
}

// Connections lists the ready switch sessions.
func (c *Controller) Connections() []Connection {
	var out []Connection
	for _, s := range c.reg.list() {
		out = append(out, Connection{DPID: s.dpid, Remote: s.remote})
	}
	return out
}

// AppNames lists the names that own flows: the apps' and the external
// apps' shared one, sorted.
func (c *Controller) AppNames() []string {
	names := []string{externalApp}
	for _, app := range c.apps {
		names = append(names, app.Name())
	}
	sort.Strings(names)
	return names
}

// AppName is the name of the app with cookie id id ("app-<id>" when none
// runs here).
func (c *Controller) AppName(id flow.AppID) string {
	if id == externalID {
		return externalApp
	}
	if app, ok := c.byID[id]; ok {
		return app.Name()
	}
	return fmt.Sprintf("app-%d", id)
}

// Claim is one desired flow and who declared it.
type Claim struct {
	App, Key string
	Flow     flow.Flow
}

// Declared is every flow declared for dpid.
func (c *Controller) Declared(dpid uint64) []Claim {
	var out []Claim
	for _, cl := range c.desired.claims(dpid) {
		out = append(out, Claim{App: cl.owner.app, Key: cl.owner.key, Flow: cl.flow})
	}
	return out
}

// CheckFlow says why f does not fit the pipeline (nil: it does).
func (c *Controller) CheckFlow(f flow.Flow) error { return c.pipeline.Check(f) }

// ready is dpid's ready session, or an error naming the field.
func (c *Controller) ready(dpid uint64) (*session, error) {
	if dpid == 0 {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	s := c.reg.get(dpid)
	if s == nil {
		return nil, &InvalidArgumentError{Field: "dpid", Reason: fmt.Sprintf("no connected switch 0x%016x", dpid)}
	}
	return s, nil
}

// SwitchReady says why dpid names no ready switch (nil: it does), so a request
// to a switch can name its dpid before what it asks of it.
func (c *Controller) SwitchReady(dpid uint64) error {
	_, err := c.ready(dpid)
	return err
}

// InstalledFlows reads dpid's flow table from the switch.
func (c *Controller) InstalledFlows(ctx context.Context, dpid uint64) ([]openflow.FlowStats, error) {
	s, err := c.ready(dpid)
	if err != nil {
		return nil, err
	}
	stats, err := dumpFlows(ctx, s.conn)
	if err != nil {
		return nil, fmt.Errorf("switch 0x%016x: %w", dpid, err)
	}
	return stats, nil
}

// FlowChange is one flow-mod the next reconcile of a switch would send.
type FlowChange struct {
	Command  string // add, modify, delete
	App, Key string
	Flow     flow.Flow
}

// DiffFlows is what the next full reconcile of dpid would send.
func (c *Controller) DiffFlows(ctx context.Context, dpid uint64) ([]FlowChange, error) {
	s, err := c.ready(dpid)
	if err != nil {
		return nil, err
	}
	body, err := dumpFlowBody(ctx, s.conn)
	if err != nil {
		return nil, err
	}
	var ops []op
	var diffErr error
	// On the session goroutine: the reconciler's state is its own.
	if err := s.do(func() {
		want := c.desired.peek(s.dpid, s.log, &c.stats)
		ops, diffErr = s.rec.diffBody(body, want, s.rec.holds(want))
	}); err != nil {
		return nil, err
	}
	if diffErr != nil {
		return nil, diffErr
	}
	out := make([]FlowChange, 0, len(ops))
	for _, o := range ops {
		out = append(out, FlowChange{Command: commandName(o.cmd), App: o.owner.app, Key: o.owner.key, Flow: o.flow})
	}
	return out, nil
}

// SwitchErrors are the last errors dpid returned.
func (c *Controller) SwitchErrors(dpid uint64) ([]SwitchError, error) {
	s, err := c.ready(dpid)
	if err != nil {
		return nil, err
	}
	return s.errors.list(), nil
}

var clientName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// externalOwner is the owner an API client's declaration is filed under.
func externalOwner(client, key string) (owner, error) {
	if !clientName.MatchString(client) {
		return owner{}, &InvalidArgumentError{Field: "client", Reason: fmt.Sprintf("%q: want 1-64 letters, digits, '.', '_' or '-'", client)}
	}
	if key == "" || len(key) > 256 || strings.ContainsRune(key, 0) {
		return owner{}, &InvalidArgumentError{Field: "key", Reason: "required, at most 256 bytes, no NUL"}
	}
	return owner{app: externalApp, key: client + "/" + key}, nil
}

// CheckExternalOwner says why client and key name no API client's
// declaration (nil: they do), so a request can be refused for who asks
// before what it asks is read.
func CheckExternalOwner(client, key string) error {
	_, err := externalOwner(client, key)
	return err
}

// SetExternalFlows declares an API client's flows for dpid under key,
// replacing what it declared there before; durable when it returns (with
// a store), and applied on the switch if it is connected.
func (c *Controller) SetExternalFlows(ctx context.Context, dpid uint64, client, key string, flows []flow.Flow) error {
	o, err := externalOwner(client, key)
	if err != nil {
		return err
	}
	if dpid == 0 {
		return &InvalidArgumentError{Field: "dpid", Reason: "required"}
	}
	for i, f := range flows {
		if err := c.pipeline.Check(f); err != nil {
			return &InvalidArgumentError{Field: fmt.Sprintf("flows[%d]", i), Reason: err.Error()}
		}
	}
	if err := c.declareExternal(ctx, dpid, o, flows, false); err != nil {
		return err
	}
	c.kick(dpid)
	return nil
}

// DeleteExternalFlows withdraws what an API client declared for dpid
// under key.
func (c *Controller) DeleteExternalFlows(ctx context.Context, dpid uint64, client, key string) error {
	o, err := externalOwner(client, key)
	if err != nil {
		return err
	}
	if err := c.declareExternal(ctx, dpid, o, nil, true); err != nil {
		return err
	}
	c.kick(dpid)
	return nil
}

// kick makes a connected switch's session apply what changed.
func (c *Controller) kick(dpid uint64) {
	if s := c.reg.get(dpid); s != nil {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// SendPacketOut sends a frame out of dpid.
func (c *Controller) SendPacketOut(dpid uint64, inPort uint32, actions []flow.Action, data []byte) error {
	s, err := c.ready(dpid)
	if err != nil {
		return err
	}
	s.packetOut(apps.PacketOut{DPID: dpid, InPort: inPort, Actions: actions, Data: data})
	return nil
}

// SubscribePackets delivers the packet-ins f selects (up to buffer
// waiting) until cancel is called or the subscriber falls behind.
func (c *Controller) SubscribePackets(f PacketFilter, buffer int) (sub *PacketSub, cancel func()) {
	return c.packets.add(f, buffer)
}

// AdmitWatcher counts a new watch stream in, or refuses it
// (ErrTooManyWatchers); release when the stream ends.
func (c *Controller) AdmitWatcher(packets bool) (release func(), err error) {
	return c.admitWatcher(packets)
}

// WatcherFellBehind counts a watch stream ended for falling behind.
func (c *Controller) WatcherFellBehind() { c.stats.watchersBehind.Add(1) }

// Peers is the state of every path between hypervisors.
func (c *Controller) Peers() []apps.Peer { return c.peers() }

// RuleKeyer is the app enforcing the network policy's named rules and its
// name, if one runs.
func (c *Controller) RuleKeyer() (apps.RuleKeyer, string, bool) {
	a, ok := c.ruleKeyer()
	if !ok {
		return nil, "", false
	}
	return a.(apps.RuleKeyer), a.Name(), true
}

// Knows says whether Loom keeps anything about dpid.
func (c *Controller) Knows(dpid uint64) bool { return c.knows(dpid) }

// Declarations is what the apps declare on one switch, handed to
// OnEachSwitch's fn.
type Declarations struct {
	Switch apps.Switch
	c      *Controller
}

// Of is what app declares on the switch, by key. The table-miss keys are
// the controller's, not the app's: they are left out.
func (d Declarations) Of(app string) map[string][]flow.Flow {
	out := map[string][]flow.Flow{}
	for _, cl := range d.c.desired.claims(d.Switch.DPID) {
		if cl.owner.app == app && !apps.IsTableMissKey(cl.owner.key) {
			out[cl.owner.key] = append(out[cl.owner.key], cl.flow)
		}
	}
	return out
}

// OnEachSwitch runs fn on every ready switch's own goroutine, in order
// with its events (so what it reads is consistent with what the switch's
// apps last declared). A switch that goes away meanwhile is skipped.
func (c *Controller) OnEachSwitch(fn func(d Declarations)) {
	for _, s := range c.reg.list() {
		// A call queued on a session that ends meanwhile may still run
		// after do gave up on it: it must not run once this returned.
		var mu sync.Mutex
		abandoned := false
		if err := s.do(func() {
			mu.Lock()
			defer mu.Unlock()
			if !abandoned {
				fn(Declarations{Switch: s.sw, c: c})
			}
		}); err != nil {
			mu.Lock()
			abandoned = true
			mu.Unlock()
		}
	}
}
