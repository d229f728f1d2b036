package harness

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// requiredTools are the programs the lab shells out to.
var requiredTools = []string{
	"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl", "ovsdb-tool",
	"ip", "ethtool", "ping", "sysctl",
}

// Require checks the lab can run here: root, the OVS binaries and schema,
// ip, ethtool, ping, sysctl and /dev/net/tun (the userspace datapath uses tap
// devices). When something is missing the test is skipped, unless the
// environment variable CI is "true": in CI a missing lab is a broken runner
// and must not silently pass as skipped.
func Require(t testing.TB) {
	t.Helper()
	if problems := missing(); len(problems) > 0 {
		msg := "integration lab unavailable: " + strings.Join(problems, "; ")
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s", msg)
		}
		t.Skipf("%s", msg)
	}
}

func missing() []string {
	var problems []string
	if os.Geteuid() != 0 {
		problems = append(problems, "must run as root (network namespaces)")
	}
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool); err != nil {
			problems = append(problems, fmt.Sprintf("%s not on PATH", tool))
		}
	}
	if _, err := os.Stat(schemaPath()); err != nil {
		problems = append(problems, fmt.Sprintf("OVS schema: %v", err))
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		problems = append(problems, fmt.Sprintf("userspace datapath needs /dev/net/tun: %v", err))
	}
	return problems
}

// schemaPath is the vswitchd database schema; OVS_PKGDATADIR overrides the
// Debian location the same way it does for the OVS tools themselves.
func schemaPath() string {
	dir := os.Getenv("OVS_PKGDATADIR")
	if dir == "" {
		dir = "/usr/share/openvswitch"
	}
	return dir + "/vswitch.ovsschema"
}
