package client

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/go-logr/logr"

	"github.com/ovn-org/libovsdb/model"
)

type hRow struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
}

const hSchema = `{"name":"H","version":"1","tables":{"T":{"columns":{"name":{"type":"string"},` +
	`"external_ids":{"type":{"key":"string","value":"string","min":0,"max":"unlimited"}}}}}}`

// miniServer is an OVSDB server of database H on a unix socket: it answers
// what Connect and Monitor ask, and sends push after its first echo reply
// (when the monitor is set up). stop closes everything.
func miniServer(t *testing.T, push ...string) (endpoint string, stop func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			go func() {
				pending := push
				dec := json.NewDecoder(conn)
				for {
					var req struct {
						Method string          `json:"method"`
						Params json.RawMessage `json:"params"`
						ID     json.RawMessage `json:"id"`
					}
					if dec.Decode(&req) != nil {
						return
					}
					reply := func(r string) { conn.Write([]byte(`{"id":` + string(req.ID) + `,"error":null,"result":` + r + "}\n")) }
					switch req.Method {
					case "list_dbs":
						reply(`["H"]`)
					case "get_schema":
						reply(hSchema)
					case "monitor_cond_since":
						reply(`[false,"00000000-0000-0000-0000-000000000000",{"T":{"11111111-1111-4111-8111-111111111111":{"initial":{"name":"a"}}}}]`)
					case "echo":
						reply(string(req.Params))
						for _, m := range pending {
							conn.Write([]byte(m + "\n"))
						}
						pending = nil
					}
				}
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		})
	}
	t.Cleanup(stop)
	return "unix:" + path, stop
}

func hClient(t *testing.T, endpoint string, opts ...Option) Client {
	t.Helper()
	dbModel, err := model.NewClientDBModel("H", map[string]model.Model{"T": &hRow{}})
	if err != nil {
		t.Fatal(err)
	}
	quiet := logr.Discard()
	cl, err := NewOVSDBClient(dbModel, append([]Option{WithEndpoint(endpoint), WithLogger(&quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Monitor(ctx, cl.NewMonitor(WithTable(&hRow{}))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// v0.7.0 panicked in its reconnect goroutine once the backoff gave up.
func TestReconnectThatGivesUpDoesNotPanic(t *testing.T) {
	endpoint, stop := miniServer(t)
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval, bo.MaxElapsedTime = 10*time.Millisecond, 200*time.Millisecond
	cl := hClient(t, endpoint, WithReconnect(100*time.Millisecond, bo))
	stop()
	// (DisconnectNotify's send does not wait for a receiver: poll.)
	for deadline := time.Now().Add(10 * time.Second); cl.Connected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still connected after the reconnect gave up")
		}
	}
}

// A notification the client cannot accept is reported and ends the
// connection; v0.7.0 panicked on each of these in its reader goroutine.
func TestRefusedNotificationClosesTheConnection(t *testing.T) {
	const cookie = `{"databaseName":"H","id":"x"}`
	for _, tc := range []struct{ name, msg, want string }{
		{"a one-element map pair", `{"id":null,"method":"update2","params":[` + cookie + `,{"T":{"11111111-1111-4111-8111-111111111111":{"modify":{"external_ids":["map",[["k"]]]}}}}]}`, "2-element array"},
		{"update2 with one param", `{"id":null,"method":"update2","params":[` + cookie + `]}`, "exactly 2 args"},
		{"update3 of an unknown monitor", `{"id":null,"method":"update3","params":[` + cookie + `,"t",{}]}`, "no monitor"},
		{"update modifying a missing row", `{"id":null,"method":"update","params":[` + cookie + `,{"T":{"22222222-2222-4222-8222-222222222222":{"old":{},"new":{"name":"b"}}}}]}`, "does not exist"},
		{"a response without an id", `{"result":1,"error":null}`, "a response without an id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint, _ := miniServer(t, tc.msg)
			refused := make(chan error, 4)
			cl := hClient(t, endpoint, WithProtocolErrorHandler(func(err error) { refused <- err }))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cl.Echo(ctx)
			select {
			case err := <-refused:
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("refused with %v, want %q", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not refused")
			}
			for deadline := time.Now().Add(5 * time.Second); cl.Connected(); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("connection not closed")
				}
			}
		})
	}
}
