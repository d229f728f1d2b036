// Package apps is the contract between Loom's controller and its apps.
//
// An app never writes to a socket. Its handlers receive events with a
// Context, declare through it exactly the flows they want per switch and
// per key they own (Set / Delete), and may ask for packet-outs. The
// controller reconciles the declarations onto each switch after the
// handler returns. An app implements App plus whichever handler interfaces
// it needs (the CoreDNS shape: a tiny core and optional capabilities).
package apps

import (
	"net"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/network"
)

// App is the core every app implements.
type App interface {
	// Name is the app's one name in logs, metrics, config and docs.
	Name() string
	// ID is the app's fixed id in flow cookies.
	ID() flow.AppID
	// Tables declares the pipeline tables the app owns.
	Tables() []flow.Table
}

// SwitchHandler is told when a switch finishes its handshake and when it
// disconnects.
type SwitchHandler interface {
	SwitchUp(ctx Context, sw Switch)
	SwitchDown(ctx Context, dpid uint64)
}

// PortHandler is told about port additions, removals and changes.
type PortHandler interface {
	PortChanged(ctx Context, dpid uint64, change PortChange, port Port)
}

// PacketHandler receives packet-ins.
type PacketHandler interface {
	PacketIn(ctx Context, pkt PacketIn)
}

// Ticker gets a turn on every connected switch every Every(), in order
// with that switch's events (for periodic probes, expiry, refreshes).
type Ticker interface {
	Every() time.Duration
	Tick(ctx Context, sw Switch)
}

// Refresher is an app whose flows depend on more than its events: the
// network policy, or what OVSDB says about ports. Refresh recomputes
// everything the app declares on sw; the controller calls it after a
// policy change and when the topology changes a switch's ports.
type Refresher interface {
	Refresh(ctx Context, sw Switch)
}

// HealthReporter is an app that can say what is wrong in its domain (a
// tunnel path down); the controller adds its conditions to the health it
// reports (loomctl status, /healthz). Called from any goroutine.
type HealthReporter interface {
	Health(now time.Time) []Condition
}

// Condition is one thing wrong, named for an operator.
type Condition struct {
	Kind    string // tunnel, switch, ovsdb, ...
	Subject string // what it is about: kvm01->kvm02
	Message string // one line: "no probe for 12s"
	Since   time.Time
}

// Forgetter is an app that keeps state per switch beyond its
// declarations; ForgetSwitch drops it when Loom forgets a switch that is
// gone (aged out, or loomctl forget switch). Called from any goroutine,
// never while the switch is connected.
type Forgetter interface {
	ForgetSwitch(dpid uint64)
}

// Restorer gets back, at start, the declarations it made in an earlier run
// (persisted by the controller), to rebuild its own state from them.
type Restorer interface {
	Restore(dpid uint64, key string, flows []flow.Flow)
}

// Context is what a handler may do. Declarations take effect when the
// handler returns, flow changes before packet-outs.
type Context interface {
	// Set declares that (this app, key) wants exactly flows on dpid,
	// replacing whatever it declared for that key before.
	Set(dpid uint64, key string, flows ...flow.Flow)
	// Delete withdraws everything (this app, key) declared on dpid.
	Delete(dpid uint64, key string)
	// PacketOut sends a packet out of a switch.
	PacketOut(po PacketOut)
	// RefreshSwitch asks for a turn of every Refresher on dpid after this
	// handler returns, on that switch's goroutine in order with its events:
	// for an app whose view of a switch changed without an event anyone
	// else saw (a tunnel peer timing out). Requests coalesce.
	RefreshSwitch(dpid uint64)
	// Now is the event's time; handlers never read the clock themselves.
	Now() time.Time
	// Log is a logger carrying the app and switch fields.
	Log() *logrus.Entry
}

// Switch is a connected switch as the handshake found it.
type Switch struct {
	DPID   uint64
	Remote net.Addr
	Tables uint8
	Ports  []Port
}

// Port is a switch port.
type Port struct {
	No   uint32
	Name string
	MAC  flow.MAC
	Up   bool
}

// PortChange says what happened to a port.
type PortChange int

// Port changes.
const (
	PortAdded PortChange = iota
	PortDeleted
	PortModified
)

func (c PortChange) String() string {
	return [...]string{"added", "deleted", "modified"}[c]
}

// PacketIn is a packet a switch sent to Loom.
type PacketIn struct {
	DPID     uint64
	InPort   uint32
	TableID  uint8
	Cookie   flow.Cookie
	BufferID uint32
	Data     []byte // the Ethernet frame; valid during the handler only
}

// PacketOut asks a switch to send a packet.
type PacketOut struct {
	DPID    uint64
	InPort  uint32
	Actions []flow.Action
	Data    []byte // the whole frame: Loom asks switches not to buffer
}

// Planner is a Refresher that can say, without declaring anything, what it
// would declare on sw under another network policy: the dry run of a
// config change.
type Planner interface {
	Plan(p *network.Policy, sw Switch) map[string][]flow.Flow
}
