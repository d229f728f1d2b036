package static

import (
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/flow"
	"github.com/loomsdn/loom/internal/apptest"
)

func parse(t *testing.T, text string) flow.Flow {
	t.Helper()
	f, err := flow.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Flows are keyed by name or content: removing an entry moves no other
// entry's key, and a restarted loomd withdraws what the config no longer
// lists (the earlier run's keys come back through Restore).
func TestStaticFlowsFollowTheConfig(t *testing.T) {
	lldp := parse(t, "table=0, priority=2000,dl_type=0x88cc actions=drop")
	arp := parse(t, "table=0, priority=1900,dl_type=0x0806 actions=drop")
	first := New([]Entry{{All: true, Flow: lldp}, {All: true, Flow: arp, Name: "no-arp"}})
	ctx := apptest.New()
	first.SwitchUp(ctx, apps.Switch{DPID: 1})
	if len(ctx.Flows) != 2 {
		t.Fatalf("declared %v", ctx.Text())
	}
	keys := map[string]bool{}
	for k := range ctx.Flows {
		keys[k] = true
	}
	if !keys["name/no-arp"] {
		t.Fatalf("the named entry's key: %v", keys)
	}

	// The next run lists only the ARP entry, by the same name.
	second := New([]Entry{{All: true, Flow: arp, Name: "no-arp"}})
	for k, fs := range ctx.Flows {
		second.Restore(1, k, fs)
	}
	second.SwitchUp(ctx, apps.Switch{DPID: 1})
	if len(ctx.Flows) != 1 || ctx.Flows["name/no-arp"] == nil {
		t.Fatalf("after removing the LLDP entry: %v", ctx.Text())
	}
	// No entries at all: everything goes.
	third := New(nil)
	third.Restore(1, "name/no-arp", nil)
	third.SwitchUp(ctx, apps.Switch{DPID: 1})
	if len(ctx.Flows) != 0 {
		t.Fatalf("with no static flows: %v", ctx.Text())
	}
}
