package openflow

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// An idle served connection costs one goroutine (its reader): keepalives
// run from one shared loop and the writer only while it has bytes to
// write. The shared loop ends with the last connection.
func TestIdleConnectionsShareOneKeepaliveLoop(t *testing.T) {
	const n = 200
	settle := func() int {
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		return runtime.NumGoroutine()
	}
	before := settle()
	var conns []*Conn
	ended := make(chan error, n)
	for i := 0; i < n; i++ {
		a, b := net.Pipe()
		go io.Copy(io.Discard, b) // the peer: one goroutine per connection
		c := NewConn(a, Config{EchoInterval: time.Hour})
		conns = append(conns, c)
		go func() { ended <- c.Serve(func(Message) {}) }()
		// One message each, so every writer has run once.
		if _, err := c.Send(EchoMsg{}); err != nil {
			t.Fatal(err)
		}
	}
	during := settle()
	// Per connection: its reader and the test's peer; then the one loop.
	if extra := during - before - 2*n; extra > 3 {
		t.Fatalf("%d idle connections run %d goroutines: %d more than a reader and a peer each", n, during-before, extra)
	}
	for _, c := range conns {
		c.Close()
	}
	for i := 0; i < n; i++ {
		<-ended
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		keepalives.mu.Lock()
		running := keepalives.tick != 0
		keepalives.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the keepalive loop still runs with no connection left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
