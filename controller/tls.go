package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loomsdn/loom/apps"
)

// ServerTLSFiles names the PEM files of an ssl: OpenFlow listener.
type ServerTLSFiles struct {
	Cert, Key, CA string
	// NoClientCerts serves TLS without asking switches for certificates
	// (the connection is encrypted, the switch is not authenticated).
	// Off by default: a switch must present a certificate the CA signed.
	NoClientCerts bool
}

// TLSFileError names which of the files (cert, key or ca) is wrong, so the
// caller can name the flag or config key that set it.
type TLSFileError struct {
	Which string // "cert", "key" or "ca"
	Path  string
	Err   error
}

func (e *TLSFileError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Which, e.Path, e.Err)
}
func (e *TLSFileError) Unwrap() error { return e.Err }

// ServerTLS is the TLS side of ssl: listeners. Its files are read at
// NewServerTLS and again at each Reload; every new handshake uses what was
// read last (tls.Config.GetConfigForClient), sessions already up keep the
// connection they have.
type ServerTLS struct {
	files ServerTLSFiles
	cur   atomic.Pointer[loadedTLS]
}

// loadedTLS is one reading of the files.
type loadedTLS struct {
	cfg  *tls.Config
	leaf *x509.Certificate
	cas  int
}

// NewServerTLS reads the files; errors are *TLSFileError.
func NewServerTLS(f ServerTLSFiles) (*ServerTLS, error) {
	s := &ServerTLS{files: f}
	l, err := s.load()
	if err != nil {
		return nil, err
	}
	s.cur.Store(l)
	return s, nil
}

// Reload reads the files again. On success new handshakes use them; on
// failure the previous certificate and CA pool stay in force.
func (s *ServerTLS) Reload() error {
	l, err := s.load()
	if err != nil {
		return err
	}
	s.cur.Store(l)
	return nil
}

// Certificate describes the server certificate in force, for logs.
func (s *ServerTLS) Certificate() (subject, serial string, notAfter time.Time, cas int) {
	l := s.cur.Load()
	return l.leaf.Subject.String(), l.leaf.SerialNumber.String(), l.leaf.NotAfter, l.cas
}

// ClientCertsRequired says whether switches must present a certificate.
func (s *ServerTLS) ClientCertsRequired() bool { return !s.files.NoClientCerts }

func (s *ServerTLS) load() (*loadedTLS, error) {
	certPEM, err := os.ReadFile(s.files.Cert)
	if err != nil {
		return nil, &TLSFileError{"cert", s.files.Cert, err}
	}
	keyPEM, err := os.ReadFile(s.files.Key)
	if err != nil {
		return nil, &TLSFileError{"key", s.files.Key, err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &TLSFileError{"cert", s.files.Cert, fmt.Errorf("with key %s: %w", s.files.Key, err)}
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, &TLSFileError{"cert", s.files.Cert, err}
		}
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		// No resumption: a resumed session would skip verifying the
		// switch's certificate against the CA pool in force now.
		SessionTicketsDisabled: true,
	}
	l := &loadedTLS{cfg: cfg, leaf: leaf}
	if s.files.CA != "" || !s.files.NoClientCerts {
		caPEM, err := os.ReadFile(s.files.CA)
		if err != nil {
			return nil, &TLSFileError{"ca", s.files.CA, err}
		}
		pool := x509.NewCertPool()
		for rest := caPEM; len(rest) > 0; {
			var c *x509.Certificate
			c, rest, err = nextCert(rest)
			if err != nil {
				return nil, &TLSFileError{"ca", s.files.CA, err}
			}
			if c == nil {
				break
			}
			pool.AddCert(c)
			l.cas++
		}
		if l.cas == 0 {
			return nil, &TLSFileError{"ca", s.files.CA, errors.New("holds no PEM certificate")}
		}
		cfg.ClientCAs = pool
	}
	if !s.files.NoClientCerts {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return l, nil
}

// Config is the listener's TLS configuration: each handshake takes the
// files as last read.
func (s *ServerTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS12,
		SessionTicketsDisabled: true,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.cur.Load().cfg, nil
		},
	}
}

// ListenTLS is Listen that also takes "ssl:HOST:PORT", served with t
// (which it needs). The TLS handshake is not run by Accept: Serve runs it
// in the connection's own goroutine, bounded by the hello timeout.
func ListenTLS(addr string, t *ServerTLS) (net.Listener, error) {
	rest, ok := strings.CutPrefix(addr, "ssl:")
	if !ok {
		return Listen(addr)
	}
	if t == nil {
		return nil, fmt.Errorf("listen address %q: an ssl: listener needs a certificate, key and CA", addr)
	}
	if rest == "" {
		return nil, fmt.Errorf("listen address %q: empty address", addr)
	}
	l, err := net.Listen("tcp", rest)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	return tls.NewListener(l, t.Config()), nil
}

// handshakeTLS completes the TLS handshake of a connection from an ssl:
// listener within limit (a peer that opens TCP and says nothing holds
// its goroutine no longer than that); other connections pass as they are.
func handshakeTLS(ctx context.Context, nc net.Conn, limit time.Duration) (err error) {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil { // a bug reached by what a peer sent: this connection fails, not the process
			err = fmt.Errorf("TLS handshake failed on a bug (please report this line): %v", r)
		}
	}()
	if limit <= 0 {
		limit = 5 * time.Second
	}
	tc.SetDeadline(time.Now().Add(limit))
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	return tc.SetDeadline(time.Time{})
}

// peerName is the subject common name of the certificate a TLS peer
// presented ("" for none, or not TLS).
func peerName(nc net.Conn) string {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return ""
	}
	if st := tc.ConnectionState(); len(st.PeerCertificates) > 0 {
		return st.PeerCertificates[0].Subject.CommonName
	}
	return ""
}

// connFields are the log fields naming a connection's peer: its address
// and, for TLS with a verified client certificate, that certificate's
// subject common name (tls_peer).
func connFields(nc net.Conn) map[string]any {
	f := map[string]any{"remote": remoteString(nc)}
	if cn := peerName(nc); cn != "" {
		f["tls_peer"] = cn
	}
	return f
}

// nextCert parses the next CERTIFICATE block of PEM data (nil at the end),
// skipping blocks of other types.
func nextCert(data []byte) (*x509.Certificate, []byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, nil, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		return c, data, err
	}
}

// tlsPeerOf is the CN of a TLS connection's client certificate ("" for
// none); nil when nc is not TLS.
func tlsPeerOf(nc net.Conn) *string {
	if _, ok := nc.(*tls.Conn); !ok {
		return nil
	}
	cn := peerName(nc)
	return &cn
}

// tlsConditions are, with TLSCheckPeerCN, the switches on ssl:
// listeners whose certificate does not name their hypervisor: the
// certificate's subject CN must equal the hypervisors: name of the OVSDB
// that lists the switch's datapath id. Switches whose datapath id no OVSDB
// lists (or two do) and switches on tcp: or unix: listeners are not
// checked. A mismatch is reported, never refused: the session and its
// flows go on.
func (c *Controller) tlsConditions() []apps.Condition {
	top := c.cfg.Topology
	if !c.cfg.TLSCheckPeerCN || top == nil {
		return nil
	}
	var out []apps.Condition
	for _, s := range c.reg.list() {
		if s.tlsPeer == nil {
			continue
		}
		b := top.Bind(s.dpid)
		if b.Hypervisor == "" || b.Contested() || *s.tlsPeer == b.Hypervisor {
			continue
		}
		msg := fmt.Sprintf("its TLS certificate names %q, not its hypervisor %s", *s.tlsPeer, b.Hypervisor)
		if *s.tlsPeer == "" {
			msg = fmt.Sprintf("presented no TLS certificate naming its hypervisor %s", b.Hypervisor)
		}
		out = append(out, apps.Condition{Kind: "switch", Subject: switchName(s.dpid, b.Hypervisor, b.Bridge), Message: msg})
		if len(out) == maxConflictsListed {
			break
		}
	}
	return out
}
