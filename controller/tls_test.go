package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/internal/fakeswitch"
	"github.com/loomsdn/loom/internal/testpki"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/ovsdb"
	"github.com/loomsdn/loom/topology"
)

type tlsRig struct {
	t                  *testing.T
	ctl                *Controller
	srv                *ServerTLS
	addr, dir          string
	certF, keyF, caF   string
	ca, other          *testpki.CA
	switchCert, server *testpki.Leaf
	logs               *test.Hook
}

// must is for test setup: an error there is a broken test, not a finding.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newTLSRig(t *testing.T) *tlsRig {
	t.Helper()
	baseline := runtime.NumGoroutine()
	r := &tlsRig{t: t, dir: t.TempDir()}
	r.ca = must(testpki.NewCA("loom-ca"))
	r.other = must(testpki.NewCA("other-ca"))
	r.server = must(r.ca.Issue("loomd", net.ParseIP("127.0.0.1")))
	r.switchCert = must(r.ca.Issue("hv1"))
	var err error
	if r.certF, r.keyF, err = r.server.Write(r.dir, "server"); err != nil {
		t.Fatal(err)
	}
	r.caF = filepath.Join(r.dir, "ca.pem")
	if err := os.WriteFile(r.caF, r.ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	r.srv = must(NewServerTLS(ServerTLSFiles{Cert: r.certF, Key: r.keyF, CA: r.caF}))
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	r.logs = hook
	r.ctl = must(New(Config{Log: log, OpenFlow: openflow.Config{EchoInterval: 200 * time.Millisecond, HelloTimeout: 300 * time.Millisecond}}))
	l := must(ListenTLS("ssl:127.0.0.1:0", r.srv))
	r.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.ctl.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		r.ctl.Close()
		// Every connection's goroutine, handshakes refused or not, is gone.
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > baseline {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-baseline, buf[:runtime.Stack(buf, true)])
		}
	})
	return r
}

// dial opens a TLS connection presenting leaf (none when nil) and trusting
// roots; it returns once the client side of the handshake is done.
func (r *tlsRig) dial(leaf *testpki.Leaf, roots ...*testpki.CA) (*tls.Conn, error) {
	pool := x509.NewCertPool()
	for _, ca := range roots {
		pool.AddCert(ca.Cert)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if leaf != nil {
		pair, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: cfg}
	c, err := d.Dial("tcp", r.addr)
	if err != nil {
		return nil, err
	}
	r.t.Cleanup(func() { c.Close() })
	return c.(*tls.Conn), nil
}

// refused says the server closed c without one OpenFlow byte: with TLS
// 1.3 the client's handshake ends before the server has checked its
// certificate, so the refusal shows at the first read.
func refused(c *tls.Conn) bool {
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 8))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func (r *tlsRig) eventually(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *tlsRig) logged(msg string, fields map[string]any) bool {
	for _, e := range r.logs.AllEntries() {
		if e.Message != msg {
			continue
		}
		ok := true
		for k, v := range fields {
			ok = ok && e.Data[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

func TestTLSSwitchWithCertificateConnects(t *testing.T) {
	r := newTLSRig(t)
	c := must(r.dial(r.switchCert, r.ca))
	sw := fakeswitch.Start(c, 0xa1)
	t.Cleanup(sw.Close)
	r.eventually("switch connected", func() bool { return len(r.ctl.Switches()) == 1 })
	r.eventually("connected line with the peer's CN", func() bool {
		return r.logged("switch connected", map[string]any{"tls_peer": "hv1"})
	})
	if st := c.ConnectionState(); st.Version < tls.VersionTLS12 {
		t.Fatalf("negotiated TLS version %x", st.Version)
	}
}

func TestTLSRefusesUntrustedAndMissingCertificates(t *testing.T) {
	r := newTLSRig(t)
	stranger := must(r.other.Issue("hv1")) // same name, other CA
	for name, leaf := range map[string]*testpki.Leaf{"other CA": stranger, "no certificate": nil} {
		c, err := r.dial(leaf, r.ca)
		if err == nil && !refused(c) {
			t.Fatalf("%s: the server kept the connection", name)
		}
	}
	r.eventually("two TLS refusals counted", func() bool {
		st := r.ctl.Stats()
		return st.TLSRejected == 2 && st.RejectedConns == 2
	})
	if n := len(r.ctl.Switches()); n != 0 {
		t.Fatalf("%d sessions from refused peers", n)
	}
	if !r.logged("TLS handshake failed; connection closed", nil) {
		t.Fatal("no log line for the refusal")
	}
}

func TestTLSRefusesOldVersions(t *testing.T) {
	r := newTLSRig(t)
	pair := must(tls.X509KeyPair(r.switchCert.CertPEM, r.switchCert.KeyPEM))
	pool := x509.NewCertPool()
	pool.AddCert(r.ca.Cert)
	_, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{pair},
		MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}

// A peer that opens TCP and never says a word holds its goroutine no
// longer than the hello timeout, and the accept loop goes on meanwhile.
func TestTLSSilentPeerIsBounded(t *testing.T) {
	r := newTLSRig(t)
	silent, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := must(r.dial(r.switchCert, r.ca)) // accepted while the silent one waits
	sw := fakeswitch.Start(c, 0xa2)
	t.Cleanup(sw.Close)
	r.eventually("switch connected beside the silent peer", func() bool { return len(r.ctl.Switches()) == 1 })
	start := time.Now()
	silent.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("the silent peer got bytes")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the silent peer's connection was still open after 3s")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v", d)
	}
	r.eventually("the silent peer counted", func() bool { return r.ctl.Stats().TLSRejected == 1 })
}

func TestTLSReload(t *testing.T) {
	r := newTLSRig(t)
	c := must(r.dial(r.switchCert, r.ca))
	sw := fakeswitch.Start(c, 0xa3)
	t.Cleanup(sw.Close)
	r.eventually("switch connected", func() bool { return len(r.ctl.Switches()) == 1 })

	// A bad file: the reload fails and the old certificate stays.
	if err := os.WriteFile(r.certF, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fe *TLSFileError
	if err := r.srv.Reload(); !errors.As(err, &fe) || fe.Which != "cert" {
		t.Fatalf("reload of a broken cert: %v", err)
	}
	c2 := must(r.dial(r.switchCert, r.ca))
	if got := c2.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(r.server.Cert.SerialNumber) != 0 {
		t.Fatalf("after a failed reload the server presents serial %v, want the old %v", got, r.server.Cert.SerialNumber)
	}

	// Rotation: a new CA, the server's certificate from it, a bundle of both.
	newCA := must(testpki.NewCA("loom-ca-2"))
	newServer := must(newCA.Issue("loomd", net.ParseIP("127.0.0.1")))
	if _, _, err := newServer.Write(r.dir, "server"); err != nil {
		t.Fatal(err)
	}
	if err := testpki.WriteAtomic(r.caF, append(append([]byte{}, r.ca.PEM...), newCA.PEM...)); err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	c3 := must(r.dial(must(newCA.Issue("hv2")), newCA))
	if got := c3.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(newServer.Cert.SerialNumber) != 0 {
		t.Fatalf("after the reload the server presents serial %v, want the new %v", got, newServer.Cert.SerialNumber)
	}
	if c4, err := r.dial(r.switchCert, newCA); err != nil || refused(c4) {
		t.Fatalf("a switch certificate from the old CA, still in the bundle, was refused: %v", err)
	}
	if got := r.ctl.Switches(); len(got) != 1 || got[0] != 0xa3 {
		t.Fatalf("sessions after the reload: %x", got)
	}
	select {
	case <-sw.Done():
		t.Fatal("the session from before the reload ended")
	default:
	}
	if _, _, _, cas := r.srv.Certificate(); cas != 2 {
		t.Fatalf("CA pool holds %d certificates, want 2", cas)
	}
}

func TestTLSFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	ca := must(testpki.NewCA("ca"))
	leaf := must(ca.Issue("loomd"))
	cert, key := must2(t, leaf, dir)
	caF := filepath.Join(dir, "ca.pem")
	os.WriteFile(caF, ca.PEM, 0o600)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, nil, 0o600)
	missing := filepath.Join(dir, "missing.pem")
	for want, f := range map[string]ServerTLSFiles{
		"cert": {Cert: missing, Key: key, CA: caF},
		"key":  {Cert: cert, Key: missing, CA: caF},
		"ca":   {Cert: cert, Key: key, CA: empty},
	} {
		_, err := NewServerTLS(f)
		var fe *TLSFileError
		if !errors.As(err, &fe) || fe.Which != want {
			t.Errorf("%s wrong: error %v", want, err)
		}
	}
	if _, err := NewServerTLS(ServerTLSFiles{Cert: cert, Key: key, NoClientCerts: true}); err != nil {
		t.Errorf("no client certificates needs no CA: %v", err)
	}
	if _, err := ListenTLS("ssl:127.0.0.1:0", nil); err == nil || !strings.Contains(err.Error(), "needs a certificate") {
		t.Errorf("ssl: without TLS: %v", err)
	}
}

func must2(t *testing.T, l *testpki.Leaf, dir string) (string, string) {
	t.Helper()
	c, k, err := l.Write(dir, "leaf")
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// With TLSCheckPeerCN, a TLS switch whose certificate does not name
// the hypervisor its dpid is bound to is a health condition; one that
// does is not; without the switch nothing is checked.
func TestTLSPeerNameIsAHealthCondition(t *testing.T) {
	for _, on := range []bool{true, false} {
		top := topology.New()
		log, _ := test.NewNullLogger()
		c, err := New(Config{Log: log, Topology: top, TLSCheckPeerCN: on})
		if err != nil {
			t.Fatal(err)
		}
		top.SetHypervisors([]topology.Hypervisor{{Name: "kvm01", OVSDB: "tcp:192.0.2.10:6640"}})
		top.OVSDBState("kvm01", "tcp:192.0.2.10:6640", &ovsdb.Hypervisor{Bridges: []ovsdb.Bridge{
			{Name: "vswitch02", DPID: 0xc1}, {Name: "vswitch03", DPID: 0xc2}, {Name: "vswitch04", DPID: 0xc3}}}, nil)
		wrong, right := "kvm02", "kvm01"
		for dpid, peer := range map[uint64]*string{0xc1: &wrong, 0xc2: &right, 0xc3: nil} {
			s := &session{dpid: dpid, remote: "192.0.2.10:40000", tlsPeer: peer}
			c.reg.mu.Lock()
			c.reg.sess[dpid], c.reg.ready[s] = s, true
			c.reg.mu.Unlock()
		}
		var found []string
		for _, cond := range c.Health() {
			if strings.Contains(cond.Message, "TLS certificate") {
				found = append(found, cond.Subject+": "+cond.Message)
			}
		}
		c.Close()
		if !on {
			if len(found) != 0 {
				t.Fatalf("checked while off: %v", found)
			}
			continue
		}
		if len(found) != 1 || !strings.Contains(found[0], "kvm01/vswitch02") || !strings.Contains(found[0], `names "kvm02", not its hypervisor kvm01`) {
			t.Fatalf("conditions %v", found)
		}
	}
}
