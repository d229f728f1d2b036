// Package etcdtest runs real etcd servers for tests: a cluster of member
// processes on loopback ports, each in its own data directory, that a test
// can kill -9 and restart, and a TCP proxy that cuts one client off from
// etcd without touching the servers. Never a mock: the binary is Debian's
// etcd-server (scripts/install-deps.sh installs it). Without it a test
// skips, and fails under CI=true (a broken runner, not a pass).
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Binary is the etcd server the tests run.
const Binary = "etcd"

// Cluster is n etcd members on loopback.
type Cluster struct {
	t       testing.TB
	dir     string
	members []*Member
	tls     *clientTLS // nil: clients speak plain HTTP
}

// Member is one etcd server process.
type Member struct {
	Name      string
	Client    string // http://127.0.0.1:PORT
	peer      string
	dir       string
	initial   string
	mu        sync.Mutex
	cmd       *exec.Cmd
	done      chan struct{}
	logPath   string
	clusterID string
	tlsFlags  []string
}

// Require skips the test when etcd is not installed, or fails it under CI.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath(Binary)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("etcd is not installed (scripts/install-deps.sh installs etcd-server): %v", err)
		}
		t.Skipf("etcd is not installed: %v", err)
	}
	return path
}

// Start runs an n-member cluster and waits until it answers. The members
// are killed and their directories removed when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return start(t, n, nil)
}

func start(t testing.TB, n int, tls *clientTLS) *Cluster {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	c := &Cluster{t: t, dir: dir, tls: tls}
	var initial []string
	token := fmt.Sprintf("loomtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	for i := 0; i < n; i++ {
		m := &Member{Name: fmt.Sprintf("etcd%d", i), Client: tls.scheme() + freePort(t), peer: "http://" + freePort(t),
			dir: filepath.Join(dir, fmt.Sprintf("etcd%d", i)), clusterID: token, tlsFlags: tls.flags()}
		m.logPath = m.dir + ".log"
		initial = append(initial, m.Name+"="+m.peer)
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		m.initial = strings.Join(initial, ",")
		if err := m.start(); err != nil {
			t.Fatalf("etcd member %s: %v", m.Name, err)
		}
	}
	t.Cleanup(c.Close)
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatalf("etcd cluster: %v\n%s", err, c.Logs())
	}
	return c
}

// Endpoints lists the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.Client)
	}
	return out
}

// Member returns member i.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Client returns a client of the whole cluster, closed when the test ends.
func (c *Cluster) Client() *clientv3.Client {
	c.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, TLS: c.tls.clientConfig(), Logger: quietLogger()})
	if err != nil {
		c.t.Fatalf("etcd client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// WaitHealthy waits until a write through the cluster succeeds.
func (c *Cluster) WaitHealthy(timeout time.Duration) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second, TLS: c.tls.clientConfig(), Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Put(ctx, "/etcdtest/health", "ok")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no write succeeded within %s: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Logs returns every member's log, for a failure message.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, m := range c.members {
		data, _ := os.ReadFile(m.logPath)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", m.Name, data)
	}
	return b.String()
}

// Close kills every member.
func (c *Cluster) Close() {
	for _, m := range c.members {
		m.Kill9()
	}
}

func (m *Member) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	state := "new"
	if _, err := os.Stat(filepath.Join(m.dir, "member")); err == nil {
		state = "existing"
	}
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{"--name", m.Name, "--data-dir", m.dir,
		"--listen-client-urls", m.Client, "--advertise-client-urls", m.Client,
		"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
		"--initial-cluster", m.initial, "--initial-cluster-state", state,
		"--initial-cluster-token", m.clusterID,
		// etcd's defaults: faster elections flap on a 2-core machine
		// loaded by the race detector (CI), and the tests see no quorum.
		"--heartbeat-interval", "100", "--election-timeout", "1000"}, m.tlsFlags...)
	cmd := exec.Command(Binary, args...) //nolint:gosec // G204: the test's own etcd, with addresses it picked
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(done) }() // the exit is expected: tests kill members
	m.cmd, m.done = cmd, done
	return nil
}

// Kill9 kills the member (SIGKILL) and waits until it is reaped.
func (m *Member) Kill9() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill() // fails only when it has exited already
	<-done
}

// Restart starts a killed member again on its data directory.
func (m *Member) Restart() error {
	m.Kill9()
	return m.start()
}

// Running says whether the member's process is alive.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// freePort picks a loopback port nobody listens on.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
