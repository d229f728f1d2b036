package soak

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/rpc2"
	"github.com/ovn-org/libovsdb/jsonrpc"
)

// TestFakeOVSDBServesEveryVariant walks one connection per variant
// through the OVSDB handshake a client makes (list_dbs, get_schema,
// monitor_cond_since) and checks each answers as its variant says: with
// nonsense, never with silence where an answer is due (except the variant
// whose point is silence), and never by taking the server down.
func TestFakeOVSDBServesEveryVariant(t *testing.T) {
	const schema = "/usr/share/openvswitch/vswitch.ovsschema"
	if _, err := os.Stat(schema); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("OVS schema: %v", err)
		}
		t.Skipf("OVS schema: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "fake.sock")
	f, err := StartFakeOVSDB(sock, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	for i, variant := range FakeVariants {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("%s: %v", variant, err)
		}
		r := bufio.NewReaderSize(c, 1<<20)
		dec := json.NewDecoder(r)
		call := func(id int, method, params string) (rpcMsg, error) {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(`{"id":` + itoa(id) + `,"method":"` + method + `","params":` + params + `}`)); err != nil {
				return rpcMsg{}, err
			}
			for {
				var m rpcMsg
				if err := dec.Decode(&m); err != nil {
					return m, err
				}
				if m.Method == "" && string(m.ID) == itoa(id) {
					return m, nil
				}
			}
		}
		got := []string{}
		m, err := call(1, "list_dbs", "[]")
		got = append(got, "list_dbs:"+summary(m, err))
		if err == nil {
			m, err = call(2, "get_schema", `["Open_vSwitch"]`)
			got = append(got, "get_schema:"+summary(m, err))
		}
		if err == nil {
			m, err = call(3, "monitor_cond_since", `["Open_vSwitch",{"id":"m"},{"Bridge":[{"columns":["name"]}]},"00000000-0000-0000-0000-000000000000"]`)
			got = append(got, "monitor:"+summary(m, err))
		}
		c.Close()
		t.Logf("connection %d, %s: %s", i, variant, strings.Join(got, " "))
		switch variant {
		case "monitor-never-answers":
			if err == nil {
				t.Errorf("%s: the monitor request was answered", variant)
			}
		case "truncated-reply", "list-dbs-garbage", "schema-not-an-object", "schema-null", "schema-no-tables":
			// Garbage where a client must stop, or truncated: fine either way.
		default:
			if err != nil {
				t.Errorf("%s: %v", variant, err)
			}
		}
	}
	if n := f.Conns(); n != len(FakeVariants) {
		t.Fatalf("%d connections counted, want %d", n, len(FakeVariants))
	}
	t.Log(f.Summary())
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func summary(m rpcMsg, err error) string {
	if err != nil {
		return "error(" + err.Error() + ")"
	}
	if len(m.Error) > 0 && string(m.Error) != "null" {
		return "rpc-error"
	}
	if len(m.Result) > 60 {
		return string(m.Result[:60]) + "..."
	}
	return string(m.Result)
}

// TestDeeplyNestedOVSDBMessageIsRefused: decoding nested OVSDB sets costs
// time and memory quadratic in their depth (the soak measured 1.3 MB at
// depth 100 and 20.7 MB at depth 400; a 20 KB, 2,000-deep update, about
// 490 MB), so the wire refuses a message nested deeper than
// jsonrpc.MaxDepth before anything decodes it.
func TestDeeplyNestedOVSDBMessageIsRefused(t *testing.T) {
	params, _ := json.Marshal([]any{nil, map[string]any{"Bridge": map[string]any{"x": map[string]any{"new": map[string]any{"ports": NestedSets(2000)}}}}})
	msg := append(append([]byte(`{"method":"update","id":null,"params":`), params...), '}')
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { a.Write(msg) }()
	c := jsonrpc.NewCodec(b)
	var req rpc2.Request
	var resp rpc2.Response
	err := c.ReadHeader(&req, &resp)
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("a %d-byte update nested 2,000 deep: %v, want it refused for its depth", len(msg), err)
	}
}
