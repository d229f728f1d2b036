package jsonrpc

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/rpc2"
)

type wire struct{ *bytes.Reader }

func (wire) Write(p []byte) (int, error) { return len(p), nil }
func (wire) Close() error                { return nil }

// run reads in through rpc2 with one call (id 1) pending and returns its
// error and what the codec refused.
func run(t *testing.T, in string, reply interface{}, limit int64) (callErr, refused error) {
	t.Helper()
	c := NewCodec(wire{bytes.NewReader([]byte(in))})
	if limit > 0 {
		c.SetMaxMessageSize(limit)
	}
	c.OnProtocolError = func(err error) { refused = err }
	cl := rpc2.NewClientWithCodec(c)
	call := cl.Go("m", nil, reply, make(chan *rpc2.Call, 1))
	cl.Run()
	<-call.Done
	return call.Error, refused
}

type panicky struct{}

func (*panicky) UnmarshalJSON([]byte) error { panic("boom") }

func TestCodecRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		reply    interface{}
		limit    int64
		want     string
	}{
		{"a response without an id", `{"result":1,"error":null}`, new(int), 0, "a response without an id"},
		{"a response with a null id", `{"id":null,"result":1,"error":null}`, new(int), 0, "a response without an id"},
		{"a response with a string id", `{"id":"x","result":1,"error":null}`, new(int), 0, "response id"},
		{"a message that is not an object", `[1]`, new(int), 0, "malformed message"},
		{"a message too large", `{"id":1,"result":"` + strings.Repeat("x", 4096) + `","error":null}`, new(string), 1024, "larger than 1024 bytes"},
		{"a result that panics its decoder", `{"id":1,"result":{},"error":null}`, new(panicky), 0, "malformed result: boom"},
		{"a result of the wrong type", `{"id":1,"result":"x","error":null}`, new(int), 0, "result: json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			callErr, refused := run(t, tc.in, tc.reply, tc.limit)
			var perr *ProtocolError
			if !errors.As(refused, &perr) || !strings.Contains(refused.Error(), tc.want) || callErr == nil {
				t.Fatalf("refused %v, call %v; want %q", refused, callErr, tc.want)
			}
		})
	}
	_, refused := run(t, `{"id":1,"result":{},"error":null}`, new(panicky), 0)
	var p *PanicError
	if !errors.As(refused, &p) {
		t.Errorf("a recovered panic is %T, want a PanicError", refused)
	}
}

func TestCodecAnswers(t *testing.T) {
	// An OVSDB error object is the call's error, not the end of the
	// connection: the next response still arrives.
	c := NewCodec(wire{bytes.NewReader([]byte(`{"id":1,"result":null,"error":{"error":"unknown database","details":"no x"}}` +
		`{"id":null,"method":"locked","params":[]}{"id":2,"result":5,"error":null}`))})
	cl := rpc2.NewClientWithCodec(c)
	var a, b int
	ca := cl.Go("m", nil, &a, make(chan *rpc2.Call, 1))
	cb := cl.Go("m", nil, &b, make(chan *rpc2.Call, 1))
	cl.Run()
	<-ca.Done
	<-cb.Done
	if ca.Error == nil || ca.Error.Error() != "unknown database: no x" || cb.Error != nil || b != 5 {
		t.Fatalf("first %v, second %v %d", ca.Error, cb.Error, b)
	}
}

func TestCodecWritesHaveADeadline(t *testing.T) {
	client, server := net.Pipe() // nobody reads server
	defer server.Close()
	c := NewCodec(client)
	c.SetWriteTimeout(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- c.WriteRequest(&rpc2.Request{Seq: 1, Method: "echo"}, []interface{}{"x"}) }()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("write: %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write to a server that does not read blocked")
	}
}

func TestNestedDeeper(t *testing.T) {
	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	if !nestedDeeper([]byte(deep), MaxDepth) {
		t.Fatal("65 levels not refused")
	}
	ok := `[{"a": ["set", [["uuid", "x"]]], "s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"["}]`
	if nestedDeeper([]byte(ok), MaxDepth) {
		t.Fatal("brackets inside a string counted")
	}
}
