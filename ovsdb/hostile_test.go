package ovsdb

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Every case is input that crashed loomd through libovsdb v0.7.0 (a panic
// in its reader goroutine, or in Connect/Monitor); each must now be
// refused with an error that names it, logged, and retried.
type hostileCase struct {
	name  string
	setup func(t testing.TB, s *fakeServer)
	want  []string // in the logged error
}

// Schemas (get_schema): the connection attempt fails.
var hostileSchemas = []hostileCase{
	{"a column without a type", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) { delete(column(tables, "Bridge", "name"), "type") })
	}, []string{"table Bridge", "column name", `without a "type"`}},
	{"a column whose type is null", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) { column(tables, "Port", "tag")["type"] = nil })
	}, []string{"table Port", "column tag", `without a "type"`}},
	{"a column of extended type float", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Bridge", "name")["type"] = map[string]any{"key": map[string]any{"type": "float"}}
		})
	}, []string{"table Bridge", "column name", `non atomic type "float"`}},
	{"a map of extended type float", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Bridge", "external_ids")["type"] = map[string]any{"key": "string",
				"value": map[string]any{"type": "float"}, "min": 0, "max": "unlimited"}
		})
	}, []string{"column external_ids", `non atomic type "float"`}},
	{"a column type without a key", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Interface", "ofport")["type"] = map[string]any{"min": 0, "max": 1}
		})
	}, []string{"column ofport", `without a "key"`}},
	{"a map type without a key", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Port", "external_ids")["type"] = map[string]any{"value": "string", "min": 0, "max": "unlimited"}
		})
	}, []string{"column external_ids", `without a "key"`}},
	{"an enum that is a one-element array", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Bridge", "fail_mode")["type"].(map[string]any)["key"].(map[string]any)["enum"] = []any{"set"}
		})
	}, []string{"column fail_mode", "enum"}},
	{"an enum set that is not an array", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			column(tables, "Bridge", "fail_mode")["type"].(map[string]any)["key"].(map[string]any)["enum"] = []any{"set", "secure"}
		})
	}, []string{"column fail_mode", "enum"}},
	{"a null column", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			tables["Bridge"].(map[string]any)["columns"].(map[string]any)["name"] = nil
		})
	}, []string{"column name", "null instead of a column schema"}},
	{"an empty index", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) { tables["Bridge"].(map[string]any)["indexes"] = []any{[]any{}} })
	}, []string{"table Bridge", "index 0 has no columns"}},
	{"an index of a column the table lacks", func(t testing.TB, s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			tables["Port"].(map[string]any)["indexes"] = []any{[]any{"nosuch"}}
		})
	}, []string{"table Port", `"nosuch"`}},
}

// withRow replaces one row of the initial monitor reply.
func withRow(table, uuid, row string) func(t testing.TB, s *fakeServer) {
	return func(t testing.TB, s *fakeServer) {
		rows := initialRows()
		rows[table][uuid] = row
		s.monitor = monitorReply(rows)
	}
}

// Monitor replies (the initial state): the connection attempt fails.
var hostileMonitorReplies = []hostileCase{
	{"a one-element map pair", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",[["k"]]]}`),
		[]string{"monitor", `pair [k] is not a 2-element array`}},
	{"an empty map pair", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",[[]]]}`),
		[]string{"monitor", "2-element array"}},
	{"map pairs that are not an array", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",5]}`),
		[]string{"monitor", "the pairs must be an array"}},
	{"a map pair that is not an array", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",["k"]]}`),
		[]string{"monitor", "not a 2-element array"}},
	{"a set as a map key", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",[[["set",["a"]],"v"]]]}`),
		[]string{"monitor", "is not an atom"}},
	{"an object as a map key", withRow("Bridge", testBridgeUUID, `{"name":"br0","external_ids":["map",[[{"a":1},"v"]]]}`),
		[]string{"monitor", "is not an atom"}},
	{"an empty array as a value", withRow("Bridge", testBridgeUUID, `{"name":[]}`),
		[]string{"monitor", "an empty array is not an OVSDB value"}},
	{"a one-element uuid", withRow("Bridge", testBridgeUUID, `{"name":"br0","ports":["uuid"]}`),
		[]string{"monitor", "want a 2-element array"}},
	{"a set without elements", withRow("Bridge", testBridgeUUID, `{"name":"br0","ports":["set"]}`),
		[]string{"monitor", "OvsSet"}},
	{"set elements that are not an array", withRow("Bridge", testBridgeUUID, `{"name":"br0","ports":["set",5]}`),
		[]string{"monitor", "the elements must be an array"}},
	{"a null row update", func(t testing.TB, s *fakeServer) {
		s.monitor = []byte(`[false,"` + zeroTxn + `",{"Bridge":{"` + testBridgeUUID + `":null}}]`)
	}, []string{"monitor", "null instead of a row update"}},
	{"a null integer", withRow("Interface", testIfaceUUID, `{"name":"p1","ofport":null}`),
		[]string{"monitor", "table Interface, column ofport"}},
	{"a null integer in a map", withRow("Bridge", testBridgeUUID, `{"name":"br0","flow_tables":["map",[[null,"x"]]]}`),
		[]string{"monitor", "column flow_tables"}},
}

// Notifications once connected: the connection is lost.
func onEcho(msgs ...string) func(t testing.TB, s *fakeServer) {
	return func(t testing.TB, s *fakeServer) { s.onEcho = msgs }
}

var hostileNotifications = []hostileCase{
	{"update2 with a one-element map pair", onEcho(notification("update2",
		`[`+cookie+`,{"Bridge":{"`+testBridgeUUID+`":{"modify":{"external_ids":["map",[["k"]]]}}}}]`)),
		[]string{"update2 notification", "2-element array"}},
	{"update2 with one param", onEcho(notification("update2", `[`+cookie+`]`)),
		[]string{"update2 notification", "exactly 2 args"}},
	{"update with no params", onEcho(notification("update", `[]`)),
		[]string{"update notification", "exactly 2 args"}},
	{"update3 for a monitor that does not exist", onEcho(notification("update3", `[`+cookie+`,"`+zeroTxn+`",{}]`)),
		[]string{"update3 notification", "no monitor"}},
	{"update3 with two params", onEcho(notification("update3", `[`+cookie+`,"`+zeroTxn+`"]`)),
		[]string{"update3 notification", "exactly 3 args"}},
	{"update modifying a row that does not exist", onEcho(notification("update",
		`[`+cookie+`,{"Bridge":{"55555555-5555-4555-8555-555555555555":{"old":{"name":"x"},"new":{"name":"y"}}}}]`)),
		[]string{"update notification", "does not exist"}},
	{"update2 with a null row update", onEcho(notification("update2", `[`+cookie+`,{"Port":{"`+testPortUUID+`":null}}]`)),
		[]string{"update2 notification", "null instead of a row update"}},
	{"update2 inserting a null integer", onEcho(notification("update2",
		`[`+cookie+`,{"Interface":{"66666666-6666-4666-8666-666666666666":{"insert":{"name":"p2","ofport":null}}}}]`)),
		[]string{"update2 notification", "column ofport"}},
	{"update2 with an unhashable map key", onEcho(notification("update2",
		`[`+cookie+`,{"Bridge":{"`+testBridgeUUID+`":{"modify":{"external_ids":["map",[[["x","y"],"v"]]]}}}}]`)),
		[]string{"update2 notification", "is not an atom"}},
	{"a response without an id", onEcho(`{"result":[],"error":null}`),
		[]string{"a response without an id"}},
	{"a response with a null id", onEcho(`{"id":null,"result":[],"error":null}`),
		[]string{"a response without an id"}},
	{"a message that is not an object", onEcho(`[1,2]`),
		[]string{"malformed message"}},
}

func runHostile(t *testing.T, cases []hostileCase, msg string) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newFakeServer(t)
			s.set(func(s *fakeServer) { tc.setup(t, s) })
			c, hook := testClient(t, s, 100*time.Millisecond)
			waitFor(t, "the fault logged and three connections", 20*time.Second, func() bool {
				return logged(hook, msg, tc.want...) && s.accepted.Load() >= 3
			}, func() string { return errorsLogged(hook) })
			if msg == "OVSDB connection failed" {
				h := c.Health()
				if h.Connected || h.Attempts == 0 || !strings.Contains(h.LastError, tc.want[len(tc.want)-1]) {
					t.Errorf("health %+v, want not connected, attempts, and the fault", h)
				}
				if _, err := c.Snapshot(); err == nil {
					t.Error("Snapshot succeeded without a connection")
				}
			}
		})
	}
}

func TestHostileSchemaIsRefusedAndRetried(t *testing.T) {
	runHostile(t, hostileSchemas, "OVSDB connection failed")
}

func TestHostileMonitorReplyIsRefusedAndRetried(t *testing.T) {
	runHostile(t, hostileMonitorReplies, "OVSDB connection failed")
}

func TestHostileNotificationClosesTheConnectionAndRetries(t *testing.T) {
	runHostile(t, hostileNotifications, "OVSDB connection lost; reconnecting")
}

// A fake server with the default content is read as it says.
func TestClientReadsTheFakeServer(t *testing.T) {
	s := newFakeServer(t)
	c, _ := testClient(t, s, time.Second)
	<-c.Ready()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, ok := snap.Bridge(0xc1)
	if snap.SystemID != "sys-1" || !ok || b.Name != "br0" || b.FailMode != "standalone" || len(b.Ports) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	if p := b.Ports[0]; p.Name != "p1" || p.OfPort != 1 || p.Tag != 10 || !p.LinkUp || p.AttachedMAC != "02:00:00:00:00:01" || p.IfaceID != "vif-1" {
		t.Fatalf("port %+v", p)
	}
	if h := c.Health(); !h.Connected || h.LastError != "" || h.LastReply.IsZero() || h.ProbeInterval != time.Second {
		t.Fatalf("health %+v", h)
	}
}

// An index over a map column is legal in a schema; libovsdb used the map
// as a Go map key and panicked on the first row.
func TestIndexOfAMapColumnIsServed(t *testing.T) {
	s := newFakeServer(t)
	s.set(func(s *fakeServer) {
		s.schema = schemaWith(t, func(tables map[string]any) {
			tables["Bridge"].(map[string]any)["indexes"] = []any{[]any{"external_ids"}, []any{"name"}}
		})
	})
	c, _ := testClient(t, s, time.Second)
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("never connected: %+v", c.Health())
	}
	if snap, err := c.Snapshot(); err != nil || len(snap.Bridges) != 1 {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}
}

// A transact reply libovsdb cannot decode fails the operation and ends
// the connection; the client reconnects.
func TestHostileTransactReplyFailsTheOperation(t *testing.T) {
	s := newFakeServer(t)
	s.set(func(s *fakeServer) { s.replies["transact"] = `{"id":%ID%,"error":null,"result":[{"uuid":["uuid"]}]}` })
	c, hook := testClient(t, s, time.Second)
	<-c.Ready()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.EnsureFailSecure(ctx, "br0"); err == nil || !strings.Contains(err.Error(), "2-element array") {
		t.Fatalf("EnsureFailSecure: %v", err)
	}
	waitFor(t, "the connection lost and made again", 10*time.Second, func() bool {
		return logged(hook, "OVSDB connection lost; reconnecting", "2-element array") && s.monitors.Load() >= 2
	}, func() string { return errorsLogged(hook) })
}

// A server that stops answering (hung, or the host gone without a reset)
// is reported disconnected by the inactivity probe.
func TestHungServerIsDisconnectedByTheProbe(t *testing.T) {
	const probe = 200 * time.Millisecond
	s := newFakeServer(t)
	c, hook := testClient(t, s, probe)
	<-c.Ready()
	waitFor(t, "a probe answered", 5*time.Second, func() bool { return s.echoes.Load() >= 1 })
	for len(c.Changed()) > 0 {
		<-c.Changed()
	}
	s.hang.Store(true)
	// No timing threshold (a loaded machine schedules late): the client
	// must notice, by the probe, at all — without it, it never did.
	waitFor(t, "the client disconnected", 10*time.Second, func() bool { return !c.Health().Connected }, func() string { return "" })
	h := c.Health()
	t.Logf("disconnected %v after the last reply (probe interval %v)", h.Since.Sub(time.Unix(0, s.lastEcho.Load())), probe)
	if !strings.Contains(h.LastError, "inactivity probe") {
		t.Errorf("health %+v, want the probe named", h)
	}
	select {
	case <-c.Changed():
	default:
		t.Error("Changed not signalled on disconnect")
	}
	if _, err := c.Snapshot(); err == nil || !strings.Contains(err.Error(), "inactivity probe") {
		t.Errorf("Snapshot: %v, want the probe named", err)
	}
	if !logged(hook, "OVSDB connection lost; reconnecting", "inactivity probe") {
		t.Errorf("not logged:%s", errorsLogged(hook))
	}
	// Answering again, the server gets the client back.
	s.hang.Store(false)
	waitFor(t, "the client reconnected", 10*time.Second, func() bool { return c.Health().Connected })
}

// A server that dies (its socket closed) is noticed at once, not when
// libovsdb gives up reconnecting.
func TestDeadServerIsNoticed(t *testing.T) {
	const probe = 200 * time.Millisecond
	s := newFakeServer(t)
	c, _ := testClient(t, s, probe)
	<-c.Ready()
	s.stop()
	waitFor(t, "the client disconnected", 2*probe, func() bool { return !c.Health().Connected })
	if _, err := c.Snapshot(); err == nil {
		t.Error("Snapshot succeeded from a dead server")
	}
}

// An outage of any length ends in a reconnect: the client never gives up
// (libovsdb's own loop panicked when its backoff's MaxElapsedTime, 15
// minutes by default, passed).
func TestReconnectsAfterALongOutage(t *testing.T) {
	s := newFakeServer(t)
	c, _ := testClient(t, s, 200*time.Millisecond)
	<-c.Ready()
	s.stop()
	start := time.Now()
	waitFor(t, "many failed attempts over a long outage", 30*time.Second, func() bool {
		return c.Health().Attempts >= 30 && time.Since(start) > 2*time.Second
	})
	s.start()
	waitFor(t, "the client back", 10*time.Second, func() bool { return c.Health().Connected && s.monitors.Load() >= 2 })
	if snap, err := c.Snapshot(); err != nil || len(snap.Bridges) != 1 {
		t.Fatalf("snapshot after the outage %+v, %v", snap, err)
	}
}
