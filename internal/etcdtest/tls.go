package etcdtest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"

	"github.com/loomsdn/loom/internal/testpki"
)

// TLSFiles are the PEM files of a cluster that speaks TLS to its
// clients: the CA that signed the members' and the client's
// certificates, and the client's certificate and key.
type TLSFiles struct {
	CA, Cert, Key string
}

// clientTLS are the flags and files of the members' client side.
type clientTLS struct {
	files              TLSFiles // what a client presents
	serverCert, server string   // the members' certificate and key
	config             *tls.Config
}

// StartTLS runs an n-member cluster whose clients must speak TLS and
// present a certificate of the cluster's CA (--client-cert-auth). Peers
// talk plain HTTP on loopback: the test is about Loom's side.
func StartTLS(t testing.TB, n int) (*Cluster, TLSFiles) {
	t.Helper()
	dir := t.TempDir()
	ca, err := testpki.NewCA("etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.crt")
	if err := testpki.WriteAtomic(caPath, ca.PEM); err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue("etcd", net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := srv.Write(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.Issue("loom")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := cl.Write(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cl.CertPEM, cl.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	files := TLSFiles{CA: caPath, Cert: cert, Key: key}
	c := start(t, n, &clientTLS{files: files, serverCert: srvCert, server: srvKey,
		config: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	return c, files
}

// flags are the members' TLS flags.
func (s *clientTLS) flags() []string {
	if s == nil {
		return nil
	}
	return []string{"--cert-file", s.serverCert, "--key-file", s.server, "--trusted-ca-file", s.files.CA, "--client-cert-auth"}
}

func (s *clientTLS) scheme() string {
	if s == nil {
		return "http://"
	}
	return "https://"
}

// clientConfig is what the cluster's own clients use (nil: plain).
func (s *clientTLS) clientConfig() *tls.Config {
	if s == nil {
		return nil
	}
	return s.config.Clone()
}
