package ovsdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cenkalti/rpc2"
	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/jsonrpc"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// The fuzz targets feed everything an OVSDB server sends through the code
// it reaches in libovsdb (the fork) and Loom, without the recovers that
// guard the real client: any panic fails them.
//
//	FuzzSchema  a get_schema result: decode, check against Loom's models,
//	            build the cache, load rows, read it as Loom does
//	FuzzUpdate  a monitor reply (monitor, monitor_cond, monitor_cond_since),
//	            an update/update2/update3 notification's params, a transact
//	            reply: decode, apply to a cache holding rows, read it
//	FuzzWire    the byte stream itself, through the JSON-RPC codec and
//	            rpc2, with replies to the calls libovsdb makes

// hostileSeeds returns what the hostile cases serve: schemas, monitor
// results, and the params of notifications.
func hostileSeeds(t testing.TB) (schemas, monitors, notifications [][]byte) {
	for _, tc := range hostileSchemas {
		s := &fakeServer{replies: map[string]string{}}
		tc.setup(t, s)
		schemas = append(schemas, s.schema)
	}
	schemas = append(schemas, schemaWith(t, func(tables map[string]any) {
		tables["Bridge"].(map[string]any)["indexes"] = []any{[]any{"external_ids"}, []any{"name"}}
	}))
	for _, tc := range hostileMonitorReplies {
		s := &fakeServer{replies: map[string]string{}}
		tc.setup(t, s)
		monitors = append(monitors, s.monitor)
	}
	for _, tc := range hostileNotifications {
		s := &fakeServer{replies: map[string]string{}}
		tc.setup(t, s)
		for _, m := range s.onEcho {
			notifications = append(notifications, []byte(m))
		}
	}
	return schemas, monitors, notifications
}

var loomModel struct {
	once  sync.Once
	db    model.DatabaseModel
	mu    sync.Mutex
	cache *cache.TableCache
}

// loomCache returns a cache of Loom's models over Loom's schema, holding
// the fake server's initial rows (the same cache, emptied, every call).
func loomCache(t testing.TB) *cache.TableCache {
	loomModel.once.Do(func() {
		client, err := vswitch.FullDatabaseModel()
		if err != nil {
			t.Fatal(err)
		}
		db, errs := model.NewDatabaseModel(vswitch.Schema(), client)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		quiet := logr.Discard()
		loomModel.db = db
		if loomModel.cache, err = cache.NewTableCache(db, nil, &quiet); err != nil {
			t.Fatal(err)
		}
	})
	loomModel.cache.Purge(loomModel.db)
	fill(t, loomModel.cache)
	return loomModel.cache
}

// fill loads the fake server's initial rows into ca.
func fill(t testing.TB, ca *cache.TableCache) {
	var initial ovsdb.TableUpdates2
	if err := json.Unmarshal([]byte(updates2("initial", initialRows())), &initial); err != nil {
		t.Fatal(err)
	}
	if err := ca.Populate2(initial); err != nil {
		t.Fatal(err)
	}
}

// readAsLoom reads ca the ways Loom does: the snapshot, and the index
// lookups behind Get (EnsureFailSecure, AddPort, RemovePort).
func readAsLoom(ca *cache.TableCache) {
	snapshotFrom("fuzz", ca)
	if t := ca.Table("Bridge"); t != nil {
		t.RowByModel(&vswitch.Bridge{Name: "br0"})
		t.RowByModel(&vswitch.Bridge{UUID: testBridgeUUID})
	}
	if t := ca.Table("Port"); t != nil {
		t.RowByModel(&vswitch.Port{Name: "p1"})
	}
}

func FuzzSchema(f *testing.F) {
	f.Add(testSchema(f))
	schemas, _, _ := hostileSeeds(f)
	for _, s := range schemas {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var schema ovsdb.DatabaseSchema
		if json.Unmarshal(data, &schema) != nil {
			return
		}
		schema.ValidateOperations(ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: "Bridge",
			Row: ovsdb.Row{"fail_mode": "secure"}, Where: []ovsdb.Condition{ovsdb.NewCondition("name", ovsdb.ConditionEqual, "br0")}})
		client, err := vswitch.FullDatabaseModel()
		if err != nil {
			t.Fatal(err)
		}
		db, errs := model.NewDatabaseModel(schema, client)
		if len(errs) > 0 {
			return
		}
		quiet := logr.Discard()
		ca, err := cache.NewTableCache(db, nil, &quiet)
		if err != nil {
			return
		}
		var initial ovsdb.TableUpdates2
		if json.Unmarshal([]byte(updates2("initial", initialRows())), &initial) == nil {
			ca.Populate2(initial)
		}
		readAsLoom(ca)
		// What Where(bridge).Update(bridge, &FailMode, &ExternalIDs) does.
		secure := vswitch.BridgeFailModeSecure
		b := &vswitch.Bridge{UUID: testBridgeUUID, Name: "br0", FailMode: &secure, ExternalIDs: map[string]string{ownerKey: "x"}}
		if info, err := db.NewModelInfo(b); err == nil {
			db.Mapper.NewRow(info, &b.FailMode, &b.ExternalIDs)
			db.Mapper.NewEqualityCondition(info)
		}
	})
}

// applyUpdates decodes data as every update libovsdb receives and applies
// what decodes to ca.
func applyUpdates(ca *cache.TableCache, data []byte) {
	var u ovsdb.TableUpdates
	if json.Unmarshal(data, &u) == nil {
		ca.Populate(u)
	}
	var u2 ovsdb.TableUpdates2
	if json.Unmarshal(data, &u2) == nil {
		ca.Populate2(u2)
	}
	var since ovsdb.MonitorCondSinceReply
	if json.Unmarshal(data, &since) == nil {
		ca.Populate2(since.Updates)
	}
}

// applyNotification does with a notification's params what libovsdb's
// update, update2 and update3 handlers do with them.
func applyNotification(ca *cache.TableCache, params []json.RawMessage) {
	for _, p := range params {
		var cookie struct {
			DatabaseName string `json:"databaseName"`
			ID           string `json:"id"`
		}
		json.Unmarshal(p, &cookie)
		var u ovsdb.TableUpdates
		if json.Unmarshal(p, &u) == nil {
			ca.Update(cookie.ID, u)
		}
		var u2 ovsdb.TableUpdates2
		if json.Unmarshal(p, &u2) == nil {
			ca.Update2(cookie, u2)
		}
	}
}

func FuzzUpdate(f *testing.F) {
	f.Add(monitorReply(initialRows()))
	f.Add([]byte(updates2("modify", map[string]map[string]string{"Bridge": {testBridgeUUID: `{"fail_mode":"secure"}`}})))
	f.Add([]byte(`{"Bridge":{"` + testBridgeUUID + `":{"old":{"name":"br0"},"new":{"name":"br1"}}}}`))
	f.Add([]byte(`[` + cookie + `,{"Port":{"` + testPortUUID + `":{"delete":null}}}]`))
	f.Add([]byte(`[{"count":1},{"uuid":["uuid","` + testPortUUID + `"]},{"rows":[{"name":"br0"}]}]`))
	f.Add([]byte(`[{"uuid":["uuid"]}]`))
	_, monitors, notifications := hostileSeeds(f)
	for _, m := range monitors {
		f.Add(m)
		var since []json.RawMessage
		if json.Unmarshal(m, &since) == nil && len(since) == 3 {
			f.Add([]byte(since[2]))
		}
	}
	for _, n := range notifications {
		var msg struct{ Params json.RawMessage }
		if json.Unmarshal(n, &msg) == nil && msg.Params != nil {
			f.Add([]byte(msg.Params))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		loomModel.mu.Lock()
		defer loomModel.mu.Unlock()
		ca := loomCache(t)
		applyUpdates(ca, data)
		var params []json.RawMessage
		if json.Unmarshal(data, &params) == nil {
			applyNotification(ca, params)
		}
		var res []ovsdb.OperationResult
		if json.Unmarshal(data, &res) == nil {
			ovsdb.CheckOperationResults(res, []ovsdb.Operation{{Op: ovsdb.OperationUpdate, Table: "Bridge"}})
		}
		readAsLoom(ca)
	})
}

// wire is a connection that reads data and writes nowhere.
type wire struct{ *bytes.Reader }

func (wire) Write(p []byte) (int, error) { return len(p), nil }
func (wire) Close() error                { return nil }

// runWire runs the JSON-RPC read loop libovsdb runs over data, with the
// calls libovsdb makes pending (ids 1 to 5) and its notification handlers,
// and returns a panic the codec recovered, if any.
func runWire(t testing.TB, data []byte) error {
	codec := jsonrpc.NewCodec(wire{bytes.NewReader(data)})
	var panicked error
	codec.OnProtocolError = func(err error) {
		var p *jsonrpc.PanicError
		if errors.As(err, &p) {
			panicked = err
		}
	}
	ca := loomCache(t)
	rpc := rpc2.NewClientWithCodec(codec)
	rpc.SetBlocking(true)
	rpc.Handle("echo", func(_ *rpc2.Client, args []interface{}, reply *[]interface{}) error {
		*reply = args
		return nil
	})
	for _, m := range []string{"update", "update2", "update3"} {
		rpc.Handle(m, func(_ *rpc2.Client, params []json.RawMessage, reply *[]interface{}) error {
			applyNotification(ca, params)
			return nil
		})
	}
	var (
		dbs    []string
		schema ovsdb.DatabaseSchema
		since  ovsdb.MonitorCondSinceReply
		res    []ovsdb.OperationResult
		echo   []interface{}
	)
	calls := []*rpc2.Call{
		rpc.Go("list_dbs", nil, &dbs, make(chan *rpc2.Call, 1)),
		rpc.Go("get_schema", []interface{}{"Open_vSwitch"}, &schema, make(chan *rpc2.Call, 1)),
		rpc.Go("monitor_cond_since", []interface{}{"Open_vSwitch", cookie, map[string]any{}, zeroTxn}, &since, make(chan *rpc2.Call, 1)),
		rpc.Go("transact", []interface{}{"Open_vSwitch"}, &res, make(chan *rpc2.Call, 1)),
		rpc.Go("echo", []interface{}{"libovsdb echo"}, &echo, make(chan *rpc2.Call, 1)),
	}
	rpc.Run() // until data ends or the codec refuses it
	for _, c := range calls {
		<-c.Done
	}
	if calls[2].Error == nil {
		ca.Populate2(since.Updates)
	}
	readAsLoom(ca)
	return panicked
}

// smallSchema is a schema of one table: Loom's models do not match it, but
// it decodes; the hostile ones are small too (FuzzSchema has the big ones,
// which make minimising slow here).
const smallSchema = `{"name":"Open_vSwitch","version":"8.3.1","tables":{"Bridge":{"columns":{` +
	`"name":{"type":"string","mutable":false},"fail_mode":{"type":{"key":{"type":"string","enum":["set",["secure","standalone"]]},"min":0,"max":1}},` +
	`"external_ids":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}},"indexes":[["name"]],"isRoot":true}}}`

// wireSeed is a whole session: replies to the five calls, a request and
// notifications.
func wireSeed(t testing.TB) []byte {
	msgs := []string{
		`{"id":1,"result":["Open_vSwitch"],"error":null}`,
		`{"id":2,"result":` + smallSchema + `,"error":null}`,
		`{"id":3,"result":` + string(monitorReply(initialRows())) + `,"error":null}`,
		`{"id":4,"result":[{"count":1}],"error":null}`,
		`{"id":5,"result":["libovsdb echo"],"error":null}`,
		`{"id":"e1","method":"echo","params":["x"]}`,
		notification("update2", `[`+cookie+`,`+updates2("modify", map[string]map[string]string{"Bridge": {testBridgeUUID: `{"fail_mode":"secure"}`}})+`]`),
		`{"id":6,"result":null,"error":{"error":"unknown method","details":"x"}}`,
	}
	return []byte(strings.Join(msgs, "\n"))
}

func FuzzWire(f *testing.F) {
	f.Add(wireSeed(f))
	for _, s := range []string{
		strings.Replace(smallSchema, `"type":"string","mutable":false`, `"mutable":false`, 1),                 // no type
		strings.Replace(smallSchema, `"type":"string","mutable":false`, `"type":{"key":{"type":"float"}}`, 1), // float
		strings.Replace(smallSchema, `"indexes":[["name"]]`, `"indexes":[[]]`, 1),
		strings.Replace(smallSchema, `["set",["secure","standalone"]]`, `["set"]`, 1),
	} {
		f.Add([]byte(`{"id":2,"result":` + s + `,"error":null}`))
	}
	_, monitors, notifications := hostileSeeds(f)
	for _, m := range monitors {
		f.Add([]byte(`{"id":3,"result":` + string(m) + `,"error":null}`))
	}
	for _, n := range notifications {
		f.Add(n)
	}
	f.Add([]byte(`{"id":4,"result":[{"uuid":["uuid"]}],"error":null}`))
	f.Add([]byte(`{"id":1,"result":{},"error":{"a":1}}{"result":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		loomModel.mu.Lock()
		defer loomModel.mu.Unlock()
		if err := runWire(t, data); err != nil {
			t.Fatalf("decoding panicked (recovered by the codec): %v", err)
		}
	})
}

// A message larger than the codec's bound is refused before it is read
// whole.
func TestWireRefusesAnOversizedMessage(t *testing.T) {
	big := `{"id":1,"result":["` + strings.Repeat("x", 1<<20) + `"],"error":null}`
	codec := jsonrpc.NewCodec(wire{bytes.NewReader([]byte(big))})
	codec.SetMaxMessageSize(64 << 10)
	var refused error
	codec.OnProtocolError = func(err error) { refused = err }
	rpc := rpc2.NewClientWithCodec(codec)
	var dbs []string
	call := rpc.Go("list_dbs", nil, &dbs, make(chan *rpc2.Call, 1))
	rpc.Run()
	<-call.Done
	if call.Error == nil || refused == nil || !strings.Contains(refused.Error(), "larger than 65536 bytes") {
		t.Fatalf("call error %v, refused %v", call.Error, refused)
	}
}
