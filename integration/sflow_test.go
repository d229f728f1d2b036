package integration

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loomsdn/loom/integration/harness"
)

// collector is a UDP sFlow collector in a hypervisor's namespace: it
// keeps the datagrams that arrive.
type collector struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  [][]byte
}

func startCollector(t *testing.T, ns string) *collector {
	t.Helper()
	c := &collector{}
	if err := harness.InNS(ns, func() error {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		c.conn = conn
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.got = append(c.got, append([]byte(nil), buf[:n]...))
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) addr() string { return c.conn.LocalAddr().String() }

// carrying counts the sFlow v5 datagrams received that contain b (a
// sampled header holding a VM's MAC), and all v5 datagrams.
func (c *collector) carrying(b []byte) (with, v5 int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.got {
		if len(d) >= 4 && binary.BigEndian.Uint32(d) == 5 {
			v5++
			if bytes.Contains(d, b) {
				with++
			}
		}
	}
	return with, v5
}

func sflowConfig(hv *harness.Hypervisor, section string) string {
	return fmt.Sprintf("hypervisors:\n  - {name: %s, ovsdb: \"unix:%s\"}\ntunnels: {type: none}\n%s", hv.Name,
		filepath.Join(hv.RunDir, "db.sock"), section)
}

// bridgeSFlow is the sFlow row bridge refers to, as ovs-vsctl prints it
// ("" when none).
func bridgeSFlow(t *testing.T, hv *harness.Hypervisor, bridge string) string {
	t.Helper()
	uuid, err := hv.Vsctl("get", "Bridge", bridge, "sflow")
	if err != nil {
		t.Fatal(err)
	}
	if uuid = strings.TrimSpace(uuid); uuid == "[]" || uuid == "" {
		return ""
	}
	out, err := hv.Vsctl("--columns=_uuid,targets,sampling,header,polling,external_ids", "list", "sFlow", uuid)
	if err != nil && strings.Contains(out+err.Error(), "no row") {
		return "" // replaced or removed between the two reads: none now
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// column is one column's value in ovs-vsctl's list output.
func column(row, name string) string {
	for _, line := range strings.Split(row, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// The sflow app, a folder and one wiring line: every Loom bridge gets its
// sFlow row, stamped as the app's; a collector receives sFlow v5 samples
// of the VMs' traffic; an operator's own sFlow on a Loom bridge stays; a
// changed row is repaired; a restart changes no row; and with the section
// gone the row goes.
func TestSFlowSamplesEveryLoomBridge(t *testing.T) {
	t.Parallel()
	lab, hv, br, vm1, vm2 := oneBridgeTwoVMs(t)
	other := hv.AddBridge("vswitch03", 0xc3)
	if _, err := hv.Vsctl("--", "--id=@s", "create", "sFlow", `targets="127.0.0.1:9"`, "sampling=7",
		"--", "set", "Bridge", other.Name, "sflow=@s"); err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, hv.NS)
	section := fmt.Sprintf("apps:\n  sflow: {targets: [\"%s\"], sampling: 1, polling: 1, header: 128}\n", col.addr())
	cfg := writeConfig(t, lab, "loom.yaml", sflowConfig(hv, section))
	l := attachLoom(t, lab, br, "--config", cfg)
	other.SetController("unix:" + l.sock)
	if err := other.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}

	var row string
	waitFor(t, "Loom's sFlow row on vswitch02", 15*time.Second, func() bool {
		row = bridgeSFlow(t, hv, br.Name)
		return strings.Contains(row, col.addr()) && strings.Contains(row, `loom-owned=sflow`)
	})
	if column(row, "sampling") != "1" || column(row, "header") != "128" || column(row, "polling") != "1" {
		t.Fatalf("sFlow row:\n%s", row)
	}
	mustPing(t, vm1, vm2)
	mac, err := net.ParseMAC(vm1.MAC)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sFlow v5 samples of vm1's frames at the collector", 15*time.Second, func() bool {
		mustPing(t, vm1, vm2)
		with, _ := col.carrying(mac)
		return with > 0
	})
	if op := bridgeSFlow(t, hv, other.Name); !strings.Contains(op, "127.0.0.1:9") || strings.Contains(op, "loom-owned") {
		t.Fatalf("the operator's sFlow on vswitch03 was changed:\n%s", op)
	}

	// Drift: someone changes Loom's row; Loom puts it back.
	uuid := column(row, "_uuid")
	if _, err := hv.Vsctl("set", "sFlow", uuid, "sampling=50"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed sampling repaired", 10*time.Second, func() bool {
		return column(bridgeSFlow(t, hv, br.Name), "sampling") == "1"
	})

	// A restart with the same config changes no row.
	if err := l.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	l.start(t, "--config", cfg)
	if err := br.WaitConnected(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a few OVSDB passes
	if again := bridgeSFlow(t, hv, br.Name); !strings.Contains(again, uuid) {
		t.Fatalf("the restart replaced the sFlow row %s:\n%s", uuid, again)
	}

	// Without the section, the row Loom made goes; the operator's stays.
	if err := l.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	l.start(t, "--config", writeConfig(t, lab, "loom2.yaml", sflowConfig(hv, "")))
	waitFor(t, "Loom's sFlow row removed", 15*time.Second, func() bool { return bridgeSFlow(t, hv, br.Name) == "" })
	if out, _ := hv.Vsctl("--columns=external_ids", "list", "sFlow"); strings.Contains(out, "loom-owned") {
		t.Fatalf("a Loom sFlow row is left:\n%s", out)
	}
	if op := bridgeSFlow(t, hv, other.Name); !strings.Contains(op, "127.0.0.1:9") {
		t.Fatalf("the operator's sFlow on vswitch03 went:\n%s", op)
	}
	for _, p := range l.problems() {
		if strings.Contains(p, "sflow") || strings.Contains(p, "OVSDB change failed") {
			t.Errorf("loomd: %s", p)
		}
	}
}
