package northbound

import (
	"context"
	"time"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/eventlog"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// Runtime is what the API needs of the controller (*controller.Controller):
// reads of its state and requests it carries out, each on the owner's
// goroutine where that matters; nothing of its sessions or stores.
type Runtime interface {
	Topology() *topology.Topology
	Now() time.Time
	Stats() controller.StatsSnapshot
	Health() []apps.Condition
	Connections() []controller.Connection
	Peers() []apps.Peer
	Knows(dpid uint64) bool
	ForgetSwitch(ctx context.Context, dpid uint64, all bool, why string) (int, error)

	// MasterOf names a switch's master instance ("" outside a cluster);
	// Instances lists the cluster's instances (nil outside one).
	MasterOf(dpid uint64) string
	Instances() []cluster.InstanceState

	AppNames() []string
	AppName(id flow.AppID) string
	RuleKeyer() (apps.RuleKeyer, string, bool)
	KeyCounters(ctx context.Context, app string) (map[string]controller.Counters, error)

	Declared(dpid uint64) []controller.Claim
	InstalledFlows(ctx context.Context, dpid uint64) ([]openflow.FlowStats, error)
	DiffFlows(ctx context.Context, dpid uint64) ([]controller.FlowChange, error)
	SwitchErrors(dpid uint64) ([]controller.SwitchError, error)
	SetExternalFlows(ctx context.Context, dpid uint64, client, key string, flows []flow.Flow) error
	DeleteExternalFlows(ctx context.Context, dpid uint64, client, key string) error

	SwitchReady(dpid uint64) error
	SendPacketOut(dpid uint64, inPort uint32, actions []flow.Action, data []byte) error
	SubscribePackets(f controller.PacketFilter, buffer int) (*controller.PacketSub, func())
	AdmitWatcher(packets bool) (release func(), err error)
	Events(after uint64) (*eventlog.Cursor[controller.OpEvent], error)
	Emit(kind, subject, message string)
	WatcherFellBehind()
}

var _ Runtime = (*controller.Controller)(nil)
