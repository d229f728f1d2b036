package apps_test

import (
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/acl"
	"github.com/loomsdn/loom/apps/tunnel"
	"github.com/loomsdn/loom/apps/vlan"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
)

// A key an earlier run declared, and the policy no longer wants, is
// withdrawn by the first recompute after a restart.
func TestRestoredKeysAreWithdrawnWhenNoLongerWanted(t *testing.T) {
	d := apps.Declared{}
	ctx := apptest.New()
	d.Restored(0xc1, "rule/old")
	d.Restored(0xc1, apps.TableMissKey(1)) // the controller's: never withdrawn by the app
	ctx.Flows[apps.TableMissKey(1)] = []flow.Flow{{Table: 1}}
	ctx.Flows["rule/old"] = []flow.Flow{{Table: 1, Priority: 5}}
	d.Replace(ctx, 0xc1, map[string][]flow.Flow{"rule/new": {{Table: 1, Priority: 6}}})
	if _, ok := ctx.Flows["rule/old"]; ok {
		t.Fatal("a restored key the recompute does not want is still declared")
	}
	if _, ok := ctx.Flows[apps.TableMissKey(1)]; !ok {
		t.Fatal("the app withdrew the controller's table-miss flow (every packet then drops at that table)")
	}
	if _, ok := ctx.Flows["rule/new"]; !ok {
		t.Fatal("the wanted key was not declared")
	}
}

// The apps that recompute whole switches get their restore and forget
// capabilities from apps.Declarations.
var (
	_ apps.Restorer  = (*acl.App)(nil)
	_ apps.Forgetter = (*acl.App)(nil)
	_ apps.Restorer  = (*vlan.App)(nil)
	_ apps.Forgetter = (*vlan.App)(nil)
	_ apps.Restorer  = (*tunnel.App)(nil)
	_ apps.Forgetter = (*tunnel.App)(nil)
)
