package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/controller"
)

// capture runs fn with stdout redirected and returns what it printed.
func capture(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := fn()
	w.Close()
	os.Stdout = old
	var b bytes.Buffer
	io.Copy(&b, r)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return b.String()
}

func number(t *testing.T, out, re string) float64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("%q not in:\n%s", re, out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// loom serves an in-process controller with the learning switch on TCP.
func loom(t *testing.T) string {
	t.Helper()
	log, _ := test.NewNullLogger()
	ctl, err := controller.New(controller.Config{Log: log}, l2.New(l2.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctl.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String()
}

func TestReactiveAgainstLoomCountsAnswers(t *testing.T) {
	addr := loom(t)
	out := capture(t, func() error {
		return reactive([]string{"--controller", addr, "--switches", "2", "--macs", "50", "--duration", "500ms"})
	})
	if n := number(t, out, `learn phase: (\d+) of 100 packet-ins answered`); n != 100 {
		t.Fatalf("learn phase answered %v of 100:\n%s", n, out)
	}
	// Loom learns each MAC once (two flows), then answers with packet-outs.
	if fm := number(t, out, `flow_mods=(\d+)`); fm != 0 {
		t.Errorf("%v flow-mods for packets between learned hosts, want none:\n%s", fm, out)
	}
	if number(t, out, `: (\d+) responses/s`) == 0 || number(t, out, `packet_outs=(\d+)`) == 0 {
		t.Fatalf("no answers:\n%s", out)
	}
	lat := capture(t, func() error {
		return reactive([]string{"--controller", addr, "--switches", "1", "--macs", "20", "--window", "1", "--duration", "300ms"})
	})
	if !strings.Contains(lat, "latency p50=") {
		t.Fatalf("latency mode printed no latency:\n%s", lat)
	}
}

func TestNullResponderIsAnsweredByFlowMods(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	go null([]string{"--listen", addr})
	time.Sleep(100 * time.Millisecond)
	out := capture(t, func() error {
		return reactive([]string{"--controller", addr, "--switches", "2", "--macs", "50", "--duration", "300ms"})
	})
	if number(t, out, `flow_mods=(\d+)`) == 0 || number(t, out, `answered of (\d+) sent`) == 0 {
		t.Fatalf("null responder not answering:\n%s", out)
	}
}

func TestConnectWaitsForInitialFlows(t *testing.T) {
	addr := loom(t)
	out := capture(t, func() error {
		return connect([]string{"--controller", addr, "--switches", "50", "--timeout", "20s"})
	})
	if n := number(t, out, `switches=50: (\d+) with initial flows`); n != 50 {
		t.Fatalf("%v of 50 switches got their initial flows:\n%s", n, out)
	}
}
