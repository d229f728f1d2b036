package ovsdb

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/ovsdb/vswitch"
)

// fakeServer is an OVSDB server in the test process, on a unix socket in
// t.TempDir(), that answers what libovsdb asks on connect (list_dbs,
// get_schema, monitor_cond_since) with whatever the test sets, good or
// hostile, then echo and transact. It can push notifications, stop
// answering, go away and come back on the same path.
type fakeServer struct {
	t    *testing.T
	path string

	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
	schema   []byte            // the get_schema result
	monitor  []byte            // the monitor_cond_since result
	onEcho   []string          // messages sent after the first echo of each connection
	replies  map[string]string // method -> a whole raw reply ("%ID%" is the request's id)
	accepted atomic.Int32      // connections accepted
	monitors atomic.Int32      // monitor replies sent
	echoes   atomic.Int32      // echoes answered
	hang     atomic.Bool       // read, never answer
	lastEcho atomic.Int64      // unix nanos of the last echo answered
}

const (
	testBridgeUUID = "11111111-1111-4111-8111-111111111111"
	testPortUUID   = "22222222-2222-4222-8222-222222222222"
	testIfaceUUID  = "33333333-3333-4333-8333-333333333333"
	testOVSUUID    = "44444444-4444-4444-8444-444444444444"
	zeroTxn        = "00000000-0000-0000-0000-000000000000"
)

// testSchema is Loom's own schema (OVS 3.1) as JSON.
func testSchema(t testing.TB) []byte {
	b, err := json.Marshal(vswitch.Schema())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// schemaWith is testSchema changed by edit, which gets the "tables" object.
func schemaWith(t testing.TB, edit func(tables map[string]any)) []byte {
	var s map[string]any
	if err := json.Unmarshal(testSchema(t), &s); err != nil {
		t.Fatal(err)
	}
	edit(s["tables"].(map[string]any))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// column returns table's column schema object for editing.
func column(tables map[string]any, table, col string) map[string]any {
	return tables[table].(map[string]any)["columns"].(map[string]any)[col].(map[string]any)
}

// Rows of a small hypervisor: one bridge with one port and its interface.
var (
	testBridgeRow = `{"name":"br0","fail_mode":"standalone","datapath_id":"00000000000000c1",` +
		`"ports":["uuid","` + testPortUUID + `"],"external_ids":["map",[["k","v"]]]}`
	testPortRow  = `{"name":"p1","interfaces":["uuid","` + testIfaceUUID + `"],"tag":10}`
	testIfaceRow = `{"name":"p1","type":"","ofport":1,"mac_in_use":"02:00:00:00:00:01","link_state":"up",` +
		`"external_ids":["map",[["attached-mac","02:00:00:00:00:01"],["iface-id","vif-1"]]]}`
	testOVSRow = `{"external_ids":["map",[["system-id","sys-1"],["hostname","hv1"]]]}`
)

// updates2 is a table-updates2 object with the given row (for uuid in
// table) replacing the default one, or added if new; kind is "initial",
// "insert", "modify" or "delete".
func updates2(kind string, rows map[string]map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	first := true
	for table, byUUID := range rows {
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "%q:{", table)
		i := 0
		for uuid, row := range byUUID {
			if i > 0 {
				b.WriteString(",")
			}
			i++
			if row == "null" {
				fmt.Fprintf(&b, "%q:null", uuid)
			} else {
				fmt.Fprintf(&b, "%q:{%q:%s}", uuid, kind, row)
			}
		}
		b.WriteString("}")
	}
	b.WriteString("}")
	return b.String()
}

// initialRows are the rows of the default monitor reply.
func initialRows() map[string]map[string]string {
	return map[string]map[string]string{
		"Open_vSwitch": {testOVSUUID: testOVSRow},
		"Bridge":       {testBridgeUUID: testBridgeRow},
		"Port":         {testPortUUID: testPortRow},
		"Interface":    {testIfaceUUID: testIfaceRow},
	}
}

// monitorReply is a monitor_cond_since result holding rows.
func monitorReply(rows map[string]map[string]string) []byte {
	return []byte(`[false,"` + zeroTxn + `",` + updates2("initial", rows) + `]`)
}

// notification is a server notification of method with raw params.
func notification(method, params string) string {
	return `{"id":null,"method":"` + method + `","params":` + params + `}`
}

// cookie is the monitor cookie of Loom's database (libovsdb checks only
// the database name).
const cookie = `{"databaseName":"Open_vSwitch","id":"x"}`

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, path: filepath.Join(t.TempDir(), "db.sock"),
		schema: testSchema(t), monitor: monitorReply(initialRows()), replies: map[string]string{}}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *fakeServer) endpoint() string { return "unix:" + s.path }

func (s *fakeServer) set(fn func(s *fakeServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// start listens (again) on the socket path.
func (s *fakeServer) start() {
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns = append(s.conns, conn)
			s.mu.Unlock()
			go s.serve(conn)
		}
	}()
}

// stop closes the listener and every connection: the server is gone.
func (s *fakeServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *fakeServer) serve(conn net.Conn) {
	defer conn.Close()
	var wmu sync.Mutex
	write := func(msg string) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.Write([]byte(msg + "\n"))
	}
	dec := json.NewDecoder(conn)
	var onEcho []string
	first := true
	for {
		var req struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			ID     json.RawMessage `json:"id"`
		}
		if err := dec.Decode(&req); err != nil {
			return
		}
		if s.hang.Load() || req.Method == "" {
			continue
		}
		id := string(req.ID)
		s.mu.Lock()
		raw, custom := s.replies[req.Method]
		schema, monitor := s.schema, s.monitor
		if first {
			onEcho, first = append([]string(nil), s.onEcho...), false
		}
		s.mu.Unlock()
		if custom {
			if raw != "" {
				write(strings.ReplaceAll(raw, "%ID%", id))
			}
			continue
		}
		result := func(r []byte) { write(`{"id":` + id + `,"error":null,"result":` + string(r) + `}`) }
		switch req.Method {
		case "list_dbs":
			result([]byte(`["Open_vSwitch"]`))
		case "get_schema":
			result(schema)
		case "monitor_cond_since":
			result(monitor)
			s.monitors.Add(1)
		case "echo":
			result(req.Params)
			s.echoes.Add(1)
			s.lastEcho.Store(time.Now().UnixNano())
			// The client is connected and probing: what a test wants
			// pushed now reaches libovsdb's notification handlers.
			for _, m := range onEcho {
				write(m)
			}
			onEcho = nil
		case "transact":
			var params []json.RawMessage
			json.Unmarshal(req.Params, &params)
			res := make([]string, max(len(params)-1, 0)) // params: the database, then the ops
			for i := range res {
				res[i] = `{"count":1}`
			}
			result([]byte("[" + strings.Join(res, ",") + "]"))
		default:
			write(`{"id":` + id + `,"error":"unknown method","result":null}`)
		}
	}
}

// testClient runs a client against s with short intervals; it ends with
// the test.
func testClient(t *testing.T, s *fakeServer, probe time.Duration) (*Client, *test.Hook) {
	t.Helper()
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	c, err := New("hv1", s.endpoint(), nil, logrus.NewEntry(log), WithProbeInterval(probe))
	if err != nil {
		t.Fatal(err)
	}
	c.backoffMin, c.backoffMax, c.connectTimeout = 5*time.Millisecond, 50*time.Millisecond, 2*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c, hook
}

// waitFor polls cond until it holds or timeout passes; detail, if given,
// adds to the failure.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, detail ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			more := ""
			for _, d := range detail {
				more += d()
			}
			t.Fatalf("timed out waiting for %s%s", what, more)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logged says whether hook holds a warning with msg whose error contains
// every one of want.
func logged(hook *test.Hook, msg string, want ...string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message != msg || e.Level > logrus.WarnLevel {
			continue
		}
		err, _ := e.Data[logrus.ErrorKey].(error)
		if err == nil {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(err.Error(), w)
		}
		if ok {
			return true
		}
	}
	return false
}

// errorsLogged lists the errors of the warnings in hook, for failures.
func errorsLogged(hook *test.Hook) string {
	var b strings.Builder
	for _, e := range hook.AllEntries() {
		if err, ok := e.Data[logrus.ErrorKey].(error); ok && e.Level <= logrus.WarnLevel {
			fmt.Fprintf(&b, "\n  %s: %v", e.Message, err)
		}
	}
	return b.String()
}
