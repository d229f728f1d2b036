package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/testpki"
)

// OpenFlow over TLS against real OVS: loomd runs in the hypervisor's
// namespace with an ssl: listener on that namespace's loopback, and the
// lab's ovs-vswitchd reaches it with `ovs-vsctl set-ssl` and an ssl:
// controller target. The CAs and certificates are made here, in Go.

const tlsListen = "127.0.0.1:6653" // inside the hypervisor's namespace

// tlsPKI is one test's certificates, as files in dir.
type tlsPKI struct {
	dir                       string
	loomCA, otherCA           *testpki.CA
	server                    *testpki.Leaf
	certF, keyF, caF          string // loomd's
	switchCert, switchKey     string // hv1's, from Loom's CA
	strangerCert, strangerKey string // from the other CA
	loomCAF, otherCAF         string
}

func newTLSPKI(t *testing.T, dir string) *tlsPKI {
	t.Helper()
	p := &tlsPKI{dir: dir}
	var err error
	check := func(e error) {
		if e != nil {
			t.Fatal(e)
		}
	}
	p.loomCA, err = testpki.NewCA("loom-ca")
	check(err)
	p.otherCA, err = testpki.NewCA("other-ca")
	check(err)
	p.server, err = p.loomCA.Issue("loomd", net.ParseIP("127.0.0.1"))
	check(err)
	p.certF, p.keyF, err = p.server.Write(dir, "loomd")
	check(err)
	sw, err := p.loomCA.Issue("hv1")
	check(err)
	p.switchCert, p.switchKey, err = sw.Write(dir, "hv1")
	check(err)
	stranger, err := p.otherCA.Issue("hv1") // the same name, from a CA Loom does not trust
	check(err)
	p.strangerCert, p.strangerKey, err = stranger.Write(dir, "stranger")
	check(err)
	p.loomCAF, p.otherCAF = filepath.Join(dir, "loom-ca.pem"), filepath.Join(dir, "other-ca.pem")
	check(os.WriteFile(p.loomCAF, p.loomCA.PEM, 0o644))
	check(os.WriteFile(p.otherCAF, p.otherCA.PEM, 0o644))
	p.caF = filepath.Join(dir, "loomd-ca.pem") // what loomd trusts: Loom's CA
	check(os.WriteFile(p.caF, p.loomCA.PEM, 0o644))
	return p
}

// startTLSLoomd runs loomd in ns with an ssl: listener (and a config file,
// so SIGHUP reloads as in production).
func startTLSLoomd(t *testing.T, lab *harness.Lab, ns string, p *tlsPKI, config ...string) *harness.Process {
	t.Helper()
	cfg := writeConfig(t, lab, "loomd.yaml", "flows:\n  verify_interval: 2s\n"+strings.Join(config, ""))
	proc := lab.Start("loomd", ns, nil, loomdBin, "--openflow-listen", "ssl:"+tlsListen,
		"--openflow-tls-cert", p.certF, "--openflow-tls-key", p.keyF, "--openflow-tls-ca", p.caF,
		"--db", filepath.Join(lab.Dir(), "loomd.db"), "--config", cfg, "--log-level", "debug",
		"--grpc-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	waitFor(t, "loomd listening", 10*time.Second, func() bool { return strings.Contains(proc.Log(), "accepting OpenFlow connections") })
	return proc
}

// setOVSSSL gives the hypervisor's ovs-vswitchd its key, certificate and
// the CA it checks the controller's certificate against.
func setOVSSSL(t *testing.T, hv *harness.Hypervisor, key, cert, ca string) {
	t.Helper()
	if _, err := hv.Vsctl("set-ssl", key, cert, ca); err != nil {
		t.Fatal(err)
	}
}

// tlsDialIn makes a TLS handshake with loomd from inside ns, presenting
// the client certificate in certF/keyF (none when empty) and trusting
// roots. It returns the connection after the client's side of the
// handshake, and the serial of the certificate loomd presented.
func tlsDialIn(t *testing.T, ns, certF, keyF string, roots ...*testpki.CA) (*tls.Conn, *big.Int, error) {
	t.Helper()
	var raw net.Conn
	if err := harness.InNS(ns, func() (err error) {
		raw, err = net.DialTimeout("tcp", tlsListen, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, ca := range roots {
		pool.AddCert(ca.Cert)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if certF != "" {
		pair, err := tls.LoadX509KeyPair(certF, keyF)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	c := tls.Client(raw, cfg)
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		return c, nil, err
	}
	return c, c.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// closedByServer says loomd closed c without sending an OpenFlow byte (with
// TLS 1.3 a refused client certificate shows at the client's first read).
func closedByServer(c *tls.Conn) bool {
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.Read(make([]byte, 8))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// metricsIn reads loomd's /metrics, served on loopback inside ns.
func metricsIn(t *testing.T, ns string, l *harness.Process) string {
	t.Helper()
	return getIn(t, ns, l, "/metrics")
}

// controllerColumn reads one column of the bridge's (only) Controller row.
func controllerColumn(t *testing.T, hv *harness.Hypervisor, br *harness.Bridge, col string) string {
	t.Helper()
	id, err := hv.Vsctl("get", "Bridge", br.Name, "controller")
	if err != nil {
		t.Fatal(err)
	}
	id = strings.Trim(strings.TrimSpace(id), "[]")
	out, err := hv.Vsctl("get", "Controller", id, col)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// (a) A bridge whose certificate Loom's CA signed connects over ssl:,
// gets its flows, and two VMs ping through them. (c) Rotation: loomd's
// certificate and key are replaced (a new CA; the bundle holds both),
// SIGHUP: the session stays (same connection), pings keep flowing, and a
// new handshake gets the new certificate. A broken file on the way is
// refused and changes nothing.
func TestTLSOVSConnectsAndRotates(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	p := newTLSPKI(t, lab.Dir())
	l := startTLSLoomd(t, lab, hv.NS, p)
	setOVSSSL(t, hv, p.switchKey, p.switchCert, p.loomCAF)
	br.SetController("ssl:" + tlsListen)
	if err := br.WaitConnected(20 * time.Second); err != nil {
		t.Fatalf("%v\nloomd:\n%s", err, l.Log())
	}
	if target := controllerColumn(t, hv, br, "target"); target != `"ssl:`+tlsListen+`"` {
		t.Fatalf("the bridge's controller target is %s", target)
	}
	waitFor(t, "loomd to log the switch with its certificate's name", 10*time.Second, func() bool {
		for _, line := range strings.Split(l.Log(), "\n") {
			if strings.Contains(line, `msg="switch connected"`) && strings.Contains(line, "tls_peer=hv1") &&
				strings.Contains(line, "dpid=0x00000000000000c1") {
				return true
			}
		}
		return false
	})
	onlyLoomFlows(t, br)
	if err := vm1.Ping(vm2.IP, 3, 15*time.Second); err != nil {
		t.Fatalf("ping through Loom's flows over TLS: %v", err)
	}
	if n := metric(t, metricsIn(t, hv.NS, l), "loom_switches_connected"); n != 1 {
		t.Fatalf("loom_switches_connected %v", n)
	}
	_, serial, err := tlsDialIn(t, hv.NS, p.switchCert, p.switchKey, p.loomCA)
	if err != nil || serial.Cmp(p.server.Cert.SerialNumber) != 0 {
		t.Fatalf("before rotation: serial %v (want %v), %v", serial, p.server.Cert.SerialNumber, err)
	}

	// Pings run across both reloads.
	pinger := lab.Start("pinger", vm1.NS, nil, "ping", "-n", "-i", "0.05", "-c", "120", "-W", "1", vm2.IP)
	hup := func(want string) {
		t.Helper()
		before := strings.Count(l.Log(), want)
		if err := syscall.Kill(l.PID(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, want, 10*time.Second, func() bool { return strings.Count(l.Log(), want) > before })
	}

	// A broken certificate file: refused, the old one stays in force.
	good, err := os.ReadFile(p.certF)
	if err != nil {
		t.Fatal(err)
	}
	if err := testpki.WriteAtomic(p.certF, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n")); err != nil {
		t.Fatal(err)
	}
	hup("OpenFlow TLS reload failed")
	if _, serial, err := tlsDialIn(t, hv.NS, p.switchCert, p.switchKey, p.loomCA); err != nil || serial.Cmp(p.server.Cert.SerialNumber) != 0 {
		t.Fatalf("after a failed reload: serial %v (want the old %v), %v", serial, p.server.Cert.SerialNumber, err)
	}
	if err := testpki.WriteAtomic(p.certF, good); err != nil {
		t.Fatal(err)
	}

	// The rotation.
	newCA, err := testpki.NewCA("loom-ca-2")
	if err != nil {
		t.Fatal(err)
	}
	newServer, err := newCA.Issue("loomd", net.ParseIP("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := newServer.Write(p.dir, "loomd"); err != nil {
		t.Fatal(err)
	}
	if err := testpki.WriteAtomic(p.caF, append(append([]byte{}, p.loomCA.PEM...), newCA.PEM...)); err != nil {
		t.Fatal(err)
	}
	hup("OpenFlow TLS certificate reloaded")
	if !strings.Contains(l.Log(), "serial="+newServer.Cert.SerialNumber.String()) {
		t.Fatal("the reload line does not name the new certificate's serial")
	}
	_, serial, err = tlsDialIn(t, hv.NS, p.switchCert, p.switchKey, newCA)
	if err != nil || serial.Cmp(newServer.Cert.SerialNumber) != 0 {
		t.Fatalf("after rotation: serial %v (want the new %v), %v", serial, newServer.Cert.SerialNumber, err)
	}
	// A switch with a certificate from the new CA is let in too (the
	// bundle holds both); its handshake completes and loomd says HELLO.
	sw2, err := newCA.Issue("hv2")
	if err != nil {
		t.Fatal(err)
	}
	c2f, k2f, err := sw2.Write(p.dir, "hv2")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := tlsDialIn(t, hv.NS, c2f, k2f, newCA)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c2, make([]byte, 8)); err != nil {
		t.Fatalf("a switch certificate from the new CA: no OpenFlow HELLO: %v", err)
	}
	c2.Close()

	if err := pinger.Wait(30 * time.Second); err != nil {
		t.Fatalf("pings across the reloads: %v\n%s", err, pinger.Log())
	}
	if !strings.Contains(pinger.Log(), " 0% packet loss") {
		t.Fatalf("pings lost across the reloads:\n%s", pinger.Log())
	}
	log := l.Log()
	if strings.Contains(log, "switch disconnected") || strings.Count(log, `msg="switch connected"`) != 1 {
		t.Fatalf("the switch's session did not survive the reloads:\n%s", log)
	}
	if !br.IsConnected() {
		t.Fatal("OVS reports its controller connection down after the reloads")
	}
	if n := metric(t, metricsIn(t, hv.NS, l), "loom_switches_connected"); n != 1 {
		t.Fatalf("loom_switches_connected %v after the reloads", n)
	}
	if err := vm1.Ping(vm2.IP, 3, 10*time.Second); err != nil {
		t.Fatalf("ping after the reloads: %v", err)
	}
}

// (b) A switch whose certificate another CA signed (real OVS), and a
// client with no certificate (Go), are refused in the TLS handshake,
// counted, and never become sessions. The control: the same OVS given a
// certificate from Loom's CA connects.
func TestTLSRefusesSwitchesLoomsCADidNotSign(t *testing.T) {
	t.Parallel()
	lab, hv, br, _, _ := oneBridgeTwoVMs(t)
	p := newTLSPKI(t, lab.Dir())
	l := startTLSLoomd(t, lab, hv.NS, p)
	setOVSSSL(t, hv, p.strangerKey, p.strangerCert, p.loomCAF) // OVS trusts Loom; Loom does not trust it
	br.SetController("ssl:" + tlsListen)
	waitFor(t, "loomd to refuse OVS's handshakes", 20*time.Second, func() bool {
		return strings.Count(l.Log(), "TLS handshake failed") >= 2
	})
	c, _, err := tlsDialIn(t, hv.NS, "", "", p.loomCA)
	if err == nil && !closedByServer(c) {
		t.Fatal("a client without a certificate kept its connection")
	}
	// A peer that opens TCP and never starts TLS is closed within the
	// hello timeout (5s by default), not held.
	var silent net.Conn
	if err := harness.InNS(hv.NS, func() (err error) {
		silent, err = net.DialTimeout("tcp", tlsListen, 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	opened := time.Now()
	silent.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("loomd sent bytes to a peer that never started TLS")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("loomd held a silent peer's connection for 15s")
	}
	if d := time.Since(opened); d > 8*time.Second {
		t.Fatalf("loomd closed a silent peer's connection only after %v", d)
	}
	waitFor(t, "the refusals counted", 10*time.Second, func() bool {
		m := metricsIn(t, hv.NS, l)
		tlsRefused := metric(t, m, "loom_tls_handshake_failures_total")
		return tlsRefused >= 4 && metric(t, m, "loom_rejected_connections_total") >= tlsRefused
	})
	log := l.Log()
	if strings.Contains(log, `msg="switch connected"`) || strings.Contains(log, "features request") {
		t.Fatalf("a refused peer got as far as OpenFlow:\n%s", log)
	}
	if n := metric(t, metricsIn(t, hv.NS, l), "loom_switches_connected"); n != 0 {
		t.Fatalf("loom_switches_connected %v", n)
	}
	if br.IsConnected() {
		t.Fatal("OVS reports its controller connected")
	}
	if flows, _ := br.DumpFlows(); len(flows) != 0 {
		t.Fatalf("the refused bridge got flows:\n%s", strings.Join(flows, "\n"))
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "TLS handshake failed") {
			t.Logf("%s", line)
		}
	}
	if !strings.Contains(log, "unknown authority") {
		t.Fatalf("the refusal does not say why (a certificate signed by an unknown authority):\n%s", log)
	}

	// The control: the same bridge, a certificate from Loom's CA.
	setOVSSSL(t, hv, p.switchKey, p.switchCert, p.loomCAF)
	if err := br.WaitConnected(25 * time.Second); err != nil {
		t.Fatalf("control: %v\nloomd:\n%s", err, l.Log())
	}
	waitFor(t, "control: loomd takes the switch", 10*time.Second, func() bool {
		return strings.Contains(l.Log(), "tls_peer=hv1") && strings.Contains(l.Log(), `msg="switch connected"`)
	})
}

// Startup errors name the flag (or config key) whose file is missing or
// unreadable, or that an ssl: listener lacks; loomd exits non-zero.
func TestTLSStartupErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newTLSPKI(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	unreadable := filepath.Join(dir, "unreadable") // a directory: reading it fails, even as root
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgMissing := filepath.Join(dir, "loomd.yaml")
	if err := os.WriteFile(cfgMissing, []byte("openflow:\n  listen: [\"ssl:127.0.0.1:0\"]\n  tls: {cert: "+p.certF+", key: "+missing+", ca: "+p.caF+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--db", filepath.Join(dir, "x.db"), "--grpc-listen", "", "--metrics-listen", ""}
	ssl := []string{"--openflow-listen", "ssl:127.0.0.1:0"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append(ssl, "--openflow-tls-key", p.keyF, "--openflow-tls-ca", p.caF), "set --openflow-tls-cert"},
		{append(ssl, "--openflow-tls-cert", p.certF, "--openflow-tls-key", p.keyF), "set --openflow-tls-ca"},
		{append(ssl, "--openflow-tls-cert", missing, "--openflow-tls-key", p.keyF, "--openflow-tls-ca", p.caF), "--openflow-tls-cert: " + missing},
		{append(ssl, "--openflow-tls-cert", p.certF, "--openflow-tls-key", unreadable, "--openflow-tls-ca", p.caF), "--openflow-tls-key: " + unreadable},
		{append(ssl, "--openflow-tls-cert", p.certF, "--openflow-tls-key", p.keyF, "--openflow-tls-ca", p.keyF), "--openflow-tls-ca: " + p.keyF + ": holds no PEM certificate"},
		{[]string{"--config", cfgMissing}, "openflow.tls.key: " + missing},
	} {
		out, err := exec.Command(loomdBin, append(append([]string{}, base...), c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("loomd %s: %v, output %q; want it to name %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}
}

// With openflow.tls.peer_cn_is_hypervisor, a switch whose certificate
// (from Loom's CA) names another host than the hypervisor whose OVSDB
// lists its bridge is a health condition, and only that: it stays
// connected and gets its flows.
func TestTLSPeerCNNotItsHypervisorIsReported(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	p := newTLSPKI(t, lab.Dir())
	other, err := p.loomCA.Issue("kvm-elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	certF, keyF, err := other.Write(p.dir, "kvm-elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	l := startTLSLoomd(t, lab, hv.NS, p, fmt.Sprintf("openflow:\n  tls: {peer_cn_is_hypervisor: true}\nhypervisors:\n  - {name: hv1, ovsdb: \"unix:%s\"}\n",
		filepath.Join(hv.RunDir, "db.sock")))
	setOVSSSL(t, hv, keyF, certF, p.loomCAF)
	br.SetController("ssl:" + tlsListen)
	if err := br.WaitConnected(20 * time.Second); err != nil {
		t.Fatalf("%v\nloomd:\n%s", err, l.Log())
	}
	want := `its TLS certificate names "kvm-elsewhere", not its hypervisor hv1`
	var health string
	waitFor(t, "health to name the certificate", 15*time.Second, func() bool {
		health = healthzIn(t, hv.NS, l)
		return strings.Contains(health, "hv1/vswitch02") && strings.Contains(health, want)
	})
	if err := vm1.Ping(vm2.IP, 3, 15*time.Second); err != nil {
		t.Fatalf("the reported switch does not forward: %v", err)
	}
	if strings.Contains(l.Log(), "switch disconnected") {
		t.Fatal("the reported switch was disconnected")
	}
}
