package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/testpki"
	"github.com/loomsdn/loom/ovsdb"
)

// An ssl: OVSDB endpoint is checked for the name its server's
// certificate carries: the endpoint's host by default, or the
// hypervisor's ovsdb_server_name. A real ovsdb-server on loopback whose
// certificate names kvm01.example (not 127.0.0.1) is refused by default
// and by a wrong name, and read with the right one.
func TestOVSDBOverTLSChecksTheServersName(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	dir := lab.Dir()
	ca, err := testpki.NewCA("Loom OVSDB test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.Issue("kvm01.example") // a DNS name only: no IP SAN
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.Issue("loomd")
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey, err := server.Write(dir, "ovsdb")
	if err != nil {
		t.Fatal(err)
	}
	cliCert, cliKey, err := client.Write(dir, "loomd")
	if err != nil {
		t.Fatal(err)
	}
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "tls.db")
	if out, err := exec.Command("ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema").CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool create: %v %s", err, out)
	}
	port := freePort(t)
	lab.Start("ovsdb-tls", "", nil, "ovsdb-server", db,
		fmt.Sprintf("--remote=pssl:%d:127.0.0.1", port),
		"--private-key="+srvKey, "--certificate="+srvCert, "--ca-cert="+caPath,
		"--unixctl="+filepath.Join(dir, "ovsdb-tls.ctl"), "--no-chdir", "-vconsole:err")
	waitFor(t, "ovsdb-server listening", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	files := config.TLSFiles{CA: caPath, Cert: cliCert, Key: cliKey}
	shared, err := files.Client("ovsdb_tls")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("ssl:127.0.0.1:%d", port)
	connects := func(serverName string) error {
		cfg := shared.Clone()
		cfg.ServerName = serverName // what the controller sets from ovsdb_server_name
		log, hook := test.NewNullLogger()
		c, err := ovsdb.New("kvm01", endpoint, cfg, logrus.NewEntry(log))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go c.Run(ctx)
		select {
		case <-c.Ready():
			return nil
		case <-time.After(5 * time.Second):
			var lines []string
			for _, e := range hook.AllEntries() {
				if err, ok := e.Data["error"]; ok {
					lines = append(lines, fmt.Sprint(err))
				}
			}
			return fmt.Errorf("not connected: %s", strings.Join(lines, "; "))
		}
	}
	if err := connects("kvm01.example"); err != nil {
		t.Fatalf("with ovsdb_server_name kvm01.example: %v", err)
	}
	for _, name := range []string{"", "kvm02.example"} { // the endpoint's host (127.0.0.1), a wrong name
		if err := connects(name); err == nil {
			t.Fatalf("server name %q: connected to a server whose certificate names kvm01.example", name)
		}
	}
	// The same check, without the OVSDB client in between: the handshake
	// itself fails on the name.
	cfg := shared.Clone()
	cfg.ServerName = "kvm02.example"
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), cfg)
	if err == nil {
		conn.Close()
	}
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Fatalf("a handshake expecting kvm02.example: %v, want a certificate-name error", err)
	}
}

// freePort is a TCP port free on loopback now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
