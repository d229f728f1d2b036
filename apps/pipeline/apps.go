package pipeline

import "github.com/loomsdn/loom/flow"

// Cookie ids, one per app, in every flow the app declares (the cookie's
// app byte, flow/cookie.go): they name a flow's owner on the switch and
// across restarts, so an id is never reused or renumbered.
const (
	AppL2        flow.AppID = 1
	AppStatic    flow.AppID = 2
	AppDiscovery flow.AppID = 3
	AppVLAN      flow.AppID = 4
	AppACL       flow.AppID = 5
	AppTunnel    flow.AppID = 6
	AppSFlow     flow.AppID = 7

	// AppAPI is reserved for flows API clients declare (SetFlows,
	// controller/external.go); no app may take it.
	AppAPI flow.AppID = 200
)

// appIDs lists every id above, for the uniqueness test.
var appIDs = map[string]flow.AppID{
	"l2": AppL2, "static": AppStatic, "discovery": AppDiscovery, "vlan": AppVLAN, "acl": AppACL, "tunnel": AppTunnel, "sflow": AppSFlow,
	"external": AppAPI,
}
