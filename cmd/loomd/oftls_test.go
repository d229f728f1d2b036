package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/internal/testpki"
)

func TestOpenFlowTLSErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	ca, err := testpki.NewCA("ca")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("loomd")
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := leaf.Write(dir, "loomd")
	if err != nil {
		t.Fatal(err)
	}
	caF := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caF, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	ssl := config.OpenFlow{Listen: []string{"tcp::6653", "ssl:127.0.0.1:6654"}}
	fromFile := ssl
	fromFile.TLS = config.OpenFlowTLS{Cert: missing, Key: key, CA: caF}
	log, _ := test.NewNullLogger()
	for _, c := range []struct {
		of   config.OpenFlow
		fl   tlsFlags
		want string
	}{
		{ssl, tlsFlags{key: key, ca: caF}, "needs its TLS certificate: set --openflow-tls-cert (or openflow.tls.cert"},
		{ssl, tlsFlags{cert: cert, ca: caF}, "--openflow-tls-key"},
		{ssl, tlsFlags{cert: cert, key: key}, "needs its TLS CA: set --openflow-tls-ca"},
		{ssl, tlsFlags{cert: missing, key: key, ca: caF}, "--openflow-tls-cert: " + missing},
		{ssl, tlsFlags{cert: cert, key: missing, ca: caF}, "--openflow-tls-key: " + missing},
		{ssl, tlsFlags{cert: cert, key: key, ca: key}, "--openflow-tls-ca: " + key + ": holds no PEM certificate"},
		{fromFile, tlsFlags{}, "openflow.tls.cert: " + missing},
		{config.OpenFlow{Listen: []string{"tcp::6653"}}, tlsFlags{cert: cert}, "no OpenFlow listener is ssl:"},
	} {
		_, err := openflowTLS(c.of, c.fl, log)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to contain %q", c.fl, err, c.want)
		}
	}
	tl, err := openflowTLS(fromFile, tlsFlags{cert: cert}, log) // the flag overrides the file's broken path
	if err != nil || tl == nil || !tl.ClientCertsRequired() {
		t.Fatalf("flags over the file: %v, %v", tl, err)
	}
	if tl, err := openflowTLS(config.OpenFlow{Listen: []string{":6653"}}, tlsFlags{}, log); tl != nil || err != nil {
		t.Fatalf("no ssl: listener: %v, %v", tl, err)
	}
	none := ssl
	none.TLS = config.OpenFlowTLS{Cert: cert, Key: key, ClientCerts: "none"}
	if tl, err := openflowTLS(none, tlsFlags{}, logrus.New()); err != nil || tl.ClientCertsRequired() {
		t.Fatalf("client_certs none: %v, %v", tl, err)
	}
}
