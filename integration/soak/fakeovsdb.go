// Package soak is Loom's soak and chaos suite: a real loomd driven for
// minutes by real OVS, loombench, gRPC watchers, a packet-in flood,
// reloads, kill -9, flapping and malformed OVSDB servers and file
// descriptor exhaustion at once (see soak_test.go). This file is the
// malformed OVSDB server the suite configures as an extra hypervisor.
package soak

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// FakeOVSDB is a tiny OVSDB JSON-RPC server (RFC 7047) that answers every
// connection with a different kind of nonsense: schemas that are not
// schemas, wrong column types, impossible constraints, updates whose rows
// contradict the schema, unknown tables and UUIDs, replies to requests
// nobody made, truncated and oversized messages, silence. Connection i
// gets variant i mod len(Variants), so a client that reconnects walks
// through all of them.
type FakeOVSDB struct {
	l      net.Listener
	schema map[string]any // the real schema, parsed; variants copy it

	mu       sync.Mutex
	conns    int
	variants map[string]int // connections per variant
	methods  map[string]int // requests per method
	closed   bool
	done     chan struct{} // closed by Close
	open     map[net.Conn]bool
	wg       sync.WaitGroup
}

// FakeVariants are the kinds of nonsense, in the order connections get
// them.
var FakeVariants = []string{
	"updates-wrong-types",
	"schema-bad-column-type",
	"updates-unknown-tables-and-uuids",
	"schema-not-an-object",
	"updates-then-garbage",
	"schema-no-tables",
	"list-dbs-garbage",
	"replies-nobody-asked-for",
	"schema-impossible-constraints",
	"monitor-never-answers",
	"schema-oversized",
	"truncated-reply",
	"schema-null",
	"server-requests-flood",
	"updates-deep-nesting",
}

// StartFakeOVSDB serves on a unix socket at path; schemaFile is the real
// vswitch schema the variants distort.
func StartFakeOVSDB(path, schemaFile string) (*FakeOVSDB, error) {
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		return nil, err
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("%s: %w", schemaFile, err)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	f := &FakeOVSDB{l: l, schema: schema, variants: map[string]int{}, methods: map[string]int{}, open: map[net.Conn]bool{},
		done: make(chan struct{})}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Close stops the server and ends every connection.
func (f *FakeOVSDB) Close() {
	f.mu.Lock()
	if !f.closed {
		close(f.done)
	}
	f.closed = true
	for c := range f.open {
		c.Close()
	}
	f.mu.Unlock()
	f.l.Close()
	f.wg.Wait()
}

// Summary says how many connections each variant got and which requests
// arrived.
func (f *FakeOVSDB) Summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var vs, ms []string
	for _, v := range FakeVariants {
		if n := f.variants[v]; n > 0 {
			vs = append(vs, fmt.Sprintf("%s=%d", v, n))
		}
	}
	for m, n := range f.methods {
		ms = append(ms, fmt.Sprintf("%s=%d", m, n))
	}
	sort.Strings(ms)
	return fmt.Sprintf("%d connections (%s); requests: %s", f.conns, strings.Join(vs, " "), strings.Join(ms, " "))
}

// Conns is the number of connections accepted so far.
func (f *FakeOVSDB) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *FakeOVSDB) accept() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			c.Close()
			return
		}
		v := FakeVariants[f.conns%len(FakeVariants)]
		f.conns++
		f.variants[v]++
		f.open[c] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(c, v)
			f.mu.Lock()
			delete(f.open, c)
			f.mu.Unlock()
			c.Close()
		}()
	}
}

type rpcMsg struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

type fakeConn struct {
	c       net.Conn
	variant string
	f       *FakeOVSDB
}

func (fc *fakeConn) write(s string) bool {
	fc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := fc.c.Write([]byte(s))
	return err == nil
}

func (fc *fakeConn) reply(id json.RawMessage, result string) bool {
	return fc.write(fmt.Sprintf(`{"id":%s,"result":%s,"error":null}`, id, result))
}

func (fc *fakeConn) replyError(id json.RawMessage, e string) bool {
	return fc.write(fmt.Sprintf(`{"id":%s,"result":null,"error":%q}`, id, e))
}

func (fc *fakeConn) notify(method, params string) bool {
	return fc.write(fmt.Sprintf(`{"id":null,"method":%q,"params":%s}`, method, params))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// deepCopy copies a parsed JSON value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

func (f *FakeOVSDB) schemaWith(edit func(tables map[string]any)) string {
	s := deepCopy(f.schema).(map[string]any)
	if edit != nil {
		edit(s["tables"].(map[string]any))
	}
	return mustJSON(s)
}

func columns(tables map[string]any, table string) map[string]any {
	return tables[table].(map[string]any)["columns"].(map[string]any)
}

func (f *FakeOVSDB) serve(c net.Conn, variant string) {
	fc := &fakeConn{c: c, variant: variant, f: f}
	dec := json.NewDecoder(c)
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var m rpcMsg
		if err := dec.Decode(&m); err != nil {
			return
		}
		if m.Method == "" {
			continue // a reply to something we sent
		}
		f.mu.Lock()
		f.methods[m.Method]++
		f.mu.Unlock()
		if !fc.handle(m) {
			return
		}
	}
}

// monitorID is the monitor id a monitor request carries (its second
// parameter), for the notifications that follow.
func monitorID(params json.RawMessage) string {
	var ps []json.RawMessage
	if json.Unmarshal(params, &ps) != nil || len(ps) < 2 {
		return "null"
	}
	return string(ps[1])
}

const (
	bridgeUUID = "7a1f3c1e-1111-4a6b-9c7e-000000000001"
	portUUID   = "7a1f3c1e-2222-4a6b-9c7e-000000000002"
	ifaceUUID  = "7a1f3c1e-3333-4a6b-9c7e-000000000003"
	ovsUUID    = "7a1f3c1e-4444-4a6b-9c7e-000000000004"
)

// handle answers one request; false closes the connection.
func (fc *fakeConn) handle(m rpcMsg) bool {
	f := fc.f
	switch m.Method {
	case "echo":
		return fc.write(fmt.Sprintf(`{"id":%s,"result":%s,"error":null}`, m.ID, orNull(m.Params)))
	case "list_dbs":
		switch fc.variant {
		case "list-dbs-garbage":
			return fc.reply(m.ID, `{"Open_vSwitch":["not","a","list"],"n":1e999999}`)
		case "replies-nobody-asked-for":
			// Replies to ids never used, a reply with both result and
			// error, then the real answer twice.
			fc.write(`{"id":987654321,"result":["Open_vSwitch"],"error":null}`)
			fc.write(fmt.Sprintf(`{"id":%s,"result":["Open_vSwitch"],"error":"also an error"}`, m.ID))
			fc.reply(m.ID, `["Open_vSwitch"]`)
			return fc.reply(m.ID, `["Open_vSwitch"]`)
		}
		return fc.reply(m.ID, `["Open_vSwitch","_Server"]`)
	case "get_schema":
		switch fc.variant {
		case "schema-not-an-object":
			return fc.reply(m.ID, `"this is not a schema"`)
		case "schema-null":
			return fc.reply(m.ID, `null`)
		case "schema-no-tables":
			return fc.reply(m.ID, `{"name":"Open_vSwitch","version":"8.3.1","tables":{}}`)
		case "schema-bad-column-type":
			return fc.reply(m.ID, f.schemaWith(func(t map[string]any) {
				columns(t, "Bridge")["name"] = map[string]any{"type": map[string]any{"key": map[string]any{"type": "quaternion"}}}
				columns(t, "Port")["tag"] = map[string]any{"type": []any{"set", 1, 2}}
				columns(t, "Interface")["ofport"] = map[string]any{"type": nil}
			}))
		case "schema-impossible-constraints":
			return fc.reply(m.ID, f.schemaWith(func(t map[string]any) {
				columns(t, "Interface")["external_ids"] = map[string]any{"type": map[string]any{"key": "string", "value": "string",
					"min": 5, "max": 1}}
				columns(t, "Bridge")["fail_mode"] = map[string]any{"type": map[string]any{"key": map[string]any{"type": "string",
					"enum": []any{"set", []any{[]any{"set", []any{1, 2}}, nil, 3.5}}}, "min": -1, "max": "unlimitedish"}}
				columns(t, "Port")["interfaces"] = map[string]any{"type": map[string]any{"key": map[string]any{"type": "uuid",
					"refTable": "NoSuchTable", "refType": "sideways"}, "min": 1, "max": "unlimited"}}
			}))
		case "schema-oversized":
			// A schema with a 3 MiB table name: under the client's
			// limits or not, it must not bring anything down.
			return fc.reply(m.ID, f.schemaWith(func(t map[string]any) {
				t[strings.Repeat("T", 3<<20)] = map[string]any{"columns": map[string]any{"c": map[string]any{"type": "string"}}}
			}))
		case "truncated-reply":
			fc.write(`{"id":` + string(m.ID) + `,"result":{"name":"Open_vSwitch","version":"8.3.1","tables":{"Bridge":{"colu`)
			return false
		}
		return fc.reply(m.ID, f.schemaWith(nil))
	case "monitor_cond_since", "monitor_cond", "monitor":
		return fc.monitor(m)
	case "transact":
		return fc.replyError(m.ID, "not here")
	}
	return fc.replyError(m.ID, "unknown method")
}

func orNull(p json.RawMessage) string {
	if len(p) == 0 {
		return "[]"
	}
	return string(p)
}

// monitor answers a monitor request with the variant's updates, then
// sends the variant's notifications.
func (fc *fakeConn) monitor(m rpcMsg) bool {
	id := monitorID(m.Params)
	// The updates as monitor_cond and monitor_cond_since carry them
	// (update2: initial/insert/modify/delete).
	var updates string
	switch fc.variant {
	case "monitor-never-answers":
		select {
		case <-fc.f.done:
		case <-time.After(30 * time.Second):
		}
		return false
	case "updates-wrong-types":
		updates = mustJSON(map[string]any{
			"Bridge": map[string]any{bridgeUUID: map[string]any{"initial": map[string]any{
				"name": 42, "datapath_id": []any{"set", "x"}, "ports": []any{"uuid", "not-a-uuid"},
				"external_ids": []any{"map", "notalist"}, "fail_mode": []any{"set", []any{[]any{"set", []any{}}}},
			}}},
			"Port": map[string]any{portUUID: map[string]any{"initial": map[string]any{
				"name": []any{"map", []any{[]any{1, 2}}}, "tag": "ten", "interfaces": []any{"set", []any{[]any{"uuid"}}},
			}}},
			"Interface": map[string]any{ifaceUUID: map[string]any{"initial": map[string]any{
				"ofport": []any{"set", []any{1, 2, 3}}, "external_ids": []any{"map", []any{[]any{"attached-mac", []any{"uuid", 7}}}},
			}}},
		})
	case "updates-unknown-tables-and-uuids":
		updates = mustJSON(map[string]any{
			"NoSuchTable": map[string]any{"xyz": map[string]any{"initial": map[string]any{"a": 1}}},
			"Bridge": map[string]any{
				"not-a-uuid":            map[string]any{"initial": map[string]any{"name": "br-ghost"}},
				bridgeUUID:              map[string]any{"modify": map[string]any{"name": "never-inserted"}},
				portUUID:                map[string]any{"delete": nil},
				"":                      map[string]any{"insert": map[string]any{}},
				strings.Repeat("9", 40): map[string]any{"initial": nil, "modify": map[string]any{"x": 1}},
			},
			"Port": []any{"not", "an", "object"},
		})
	case "updates-deep-nesting":
		updates = mustJSON(map[string]any{"Bridge": map[string]any{bridgeUUID: map[string]any{"initial": map[string]any{
			"name": "br-deep", "external_ids": NestedSets(2000)}}}})
	default:
		// A consistent-looking start: one Open_vSwitch row and a bridge
		// whose port row never comes.
		updates = mustJSON(map[string]any{
			"Open_vSwitch": map[string]any{ovsUUID: map[string]any{"initial": map[string]any{
				"bridges": []any{"uuid", bridgeUUID}, "external_ids": []any{"map", []any{[]any{"system-id", "ghost"}}}}}},
			"Bridge": map[string]any{bridgeUUID: map[string]any{"initial": map[string]any{
				"name": "br-ghost", "datapath_id": "00000000000000ee", "ports": []any{"uuid", portUUID}, "fail_mode": "standalone"}}},
		})
	}
	var ok bool
	switch m.Method {
	case "monitor_cond_since":
		ok = fc.reply(m.ID, fmt.Sprintf(`[false,"00000000-0000-0000-0000-000000000000",%s]`, updates))
	case "monitor_cond":
		ok = fc.reply(m.ID, updates)
	default: // monitor: the old format has old/new instead
		ok = fc.reply(m.ID, `{"Bridge":{"`+bridgeUUID+`":{"new":{"name":["set",[1,2,3]],"ports":"nope"},"old":7}}}`)
	}
	if !ok {
		return false
	}
	switch fc.variant {
	case "updates-then-garbage":
		for i := 0; i < 200; i++ {
			fc.notify("update3", fmt.Sprintf(`[%s,"not-a-txn-id",{"Bridge":{"%s":{"modify":{"ports":["set",[["uuid","%d"]]]}}}}]`, id, bridgeUUID, i))
			fc.notify("update2", `"params that are not an array"`)
			fc.notify("update2", `[`+id+`]`)
			fc.notify("update", `[`+id+`,{"Bridge":{"`+bridgeUUID+`":{"new":null,"old":null}}}]`)
		}
		fc.write(`}{][ this is not JSON at all ` + strings.Repeat("\x00\xff", 64))
		return false
	case "server-requests-flood":
		for i := 0; i < 500; i++ {
			fc.write(fmt.Sprintf(`{"id":"srv-%d","method":"echo","params":[%d]}`, i, i))
			fc.write(fmt.Sprintf(`{"id":"srv-x%d","method":"steal_keys","params":{"all":true}}`, i))
			fc.notify("update2", `[`+id+`,{"Interface":{"`+ifaceUUID+`":{"insert":{"ofport":-99999999999999999999}}}}]`)
		}
		select {
		case <-fc.f.done:
		case <-time.After(2 * time.Second):
		}
		return false
	}
	return true
}

// NestedSets is a value of depth sets inside sets, ["set",[["set",[...]]]]
// around a string: about 10 bytes of JSON per level.
func NestedSets(depth int) any {
	var deep any = "bottom"
	for i := 0; i < depth; i++ {
		deep = []any{"set", []any{deep}}
	}
	return deep
}
