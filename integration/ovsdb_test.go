package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/ovsdb"
)

func TestOVSDBClientReadsLibvirtPortsAndEnforcesSecureMode(t *testing.T) {
	t.Parallel()
	_, hv, br, vm1, _ := oneBridgeTwoVMs(t)
	// A VM port as libvirt leaves it: its identity in external_ids.
	if _, err := hv.Vsctl("set", "Interface", vm1.Port, "external_ids:attached-mac="+vm1.MAC,
		"external_ids:iface-id=4f2c-port1", "external_ids:vm-uuid=0b4a1c2e-centos01", "external_ids:iface-status=active"); err != nil {
		t.Fatal(err)
	}
	uplink := hv.AddBridge("vswitch01", 0xa1)
	uplink.SetFailMode("standalone")

	log, _ := test.NewNullLogger()
	c, err := ovsdb.New("hv1", "unix:"+filepath.Join(hv.RunDir, "db.sock"), nil, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	select {
	case <-c.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("OVSDB client never connected")
	}
	var snap ovsdb.Hypervisor
	waitFor(t, "both bridges with their datapath ids", 10*time.Second, func() bool {
		snap, err = c.Snapshot()
		_, ok1 := snap.Bridge(0xc1)
		_, ok2 := snap.Bridge(0xa1)
		return err == nil && ok1 && ok2
	})
	b, _ := snap.Bridge(br.DPID)
	var port ovsdb.Port
	for _, p := range b.Ports {
		if p.Name == vm1.Port {
			port = p
		}
	}
	if port.AttachedMAC != vm1.MAC || port.IfaceID != "4f2c-port1" || port.VMUUID != "0b4a1c2e-centos01" || port.IfaceStatus != "active" || port.OfPort <= 0 {
		t.Fatalf("VM port as Loom reads it: %+v", port)
	}
	if b.FailMode != "secure" {
		t.Fatalf("bridge %s fail_mode %q", b.Name, b.FailMode)
	}

	changed, err := c.EnsureFailSecure(ctx, "vswitch01")
	if err != nil || !changed {
		t.Fatalf("EnsureFailSecure: %v, %v", changed, err)
	}
	if out, _ := hv.Vsctl("get", "Bridge", "vswitch01", "fail_mode"); out != "secure" {
		t.Fatalf("fail_mode is %q after EnsureFailSecure", out)
	}
	if out, _ := hv.Vsctl("get", "Bridge", "vswitch01", "external_ids:loom-owned"); !strings.Contains(out, "fail_mode") {
		t.Fatalf("no ownership stamp: %q", out)
	}
	if changed, err := c.EnsureFailSecure(ctx, "vswitch01"); err != nil || changed {
		t.Fatalf("second EnsureFailSecure changed=%v err=%v, want a no-op", changed, err)
	}
	if _, err := c.EnsureFailSecure(ctx, "nosuchbr"); err == nil {
		t.Fatal("EnsureFailSecure on a missing bridge succeeded")
	}
}

func TestOVSDBClientRetriesAnUnreachableEndpoint(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	c, err := ovsdb.New("ghost", "unix:"+filepath.Join(lab.Dir(), "nothing-here.sock"), nil, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	// Retried, with one warning for the one reason.
	waitFor(t, "three attempts", 10*time.Second, func() bool {
		n := 0
		for _, e := range hook.AllEntries() {
			if e.Message == "OVSDB connection failed" && e.Data["hypervisor"] == "ghost" {
				n++
			}
		}
		return n >= 3
	})
	warnings := 0
	for _, e := range hook.AllEntries() {
		if e.Message == "OVSDB connection failed" && e.Level == logrus.WarnLevel {
			warnings++
		}
	}
	if warnings != 1 {
		t.Fatalf("%d warnings for one unreachable endpoint, want 1", warnings)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, bad := range []string{"tcp:nohost", "unix:", "http://x", "ssl:h:6640"} {
		if _, err := ovsdb.New("x", bad, nil, logrus.NewEntry(log)); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
}

func TestOVSDBClientNamesAMissingSchemaColumn(t *testing.T) {
	t.Parallel()
	lab := harness.New(t)
	// A schema without Interface.external_ids, served by a real ovsdb-server.
	raw, err := os.ReadFile("/usr/share/openvswitch/vswitch.ovsschema")
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	delete(schema["tables"].(map[string]any)["Interface"].(map[string]any)["columns"].(map[string]any), "external_ids")
	trimmed, _ := json.Marshal(schema)
	dir := lab.Dir()
	schemaFile, dbFile, sock := filepath.Join(dir, "trimmed.ovsschema"), filepath.Join(dir, "trimmed.db"), filepath.Join(dir, "trimmed.sock")
	os.WriteFile(schemaFile, trimmed, 0o644)
	if out, err := exec.Command("ovsdb-tool", "create", dbFile, schemaFile).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool: %v %s", err, out)
	}
	lab.Start("trimmed-ovsdb", "", nil, "ovsdb-server", dbFile, "--remote=punix:"+sock, "--no-chdir",
		"--pidfile="+filepath.Join(dir, "trimmed.pid"), "--unixctl="+filepath.Join(dir, "trimmed.ctl"), "--log-file="+filepath.Join(dir, "trimmed.log"))

	log, hook := test.NewNullLogger()
	c, err := ovsdb.New("old-host", "unix:"+sock, nil, logrus.NewEntry(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	waitFor(t, "an error naming the missing column", 10*time.Second, func() bool {
		for _, e := range hook.AllEntries() {
			// libovsdb checks Loom's models against the server's schema
			// and names the column; the error reaches the log as is.
			if err, ok := e.Data[logrus.ErrorKey].(error); ok && strings.Contains(err.Error(), "vswitch.Interface") &&
				strings.Contains(err.Error(), "external_ids: Column does not exist in schema") {
				return true
			}
		}
		return false
	})
}
