package main

import (
	"strings"
	"testing"
)

// Completion offers the running loomd's names: switches three ways,
// networks, ports and VMs, and only what the API declared where only that
// can be deleted.
func TestCompletionOffersLoomdsNames(t *testing.T) {
	addr := server(t)
	for args, want := range map[string][]string{
		"flows --switch ":        {"0xa1", "0xc1", "kvm01/vswitch01", "kvm01/vswitch02", "vswitch01", "vswitch02"},
		"flows --switch kvm":     {"kvm01/vswitch01", "kvm01/vswitch02"},
		"flows --network ":       {"db", "web"},
		"flows --port cent":      {"centos01_port1"},
		"get vm ":                {"52:54:00:aa:bb:01", "vm-centos01"},
		"forget switch vswitch0": {"vswitch01", "vswitch02"},
		"net del ":               {}, // the file's networks are not the API's to delete
	} {
		fields := strings.Fields(args)
		if strings.HasSuffix(args, " ") {
			fields = append(fields, "")
		}
		out, err := run(t, append([]string{"__complete", "--server", addr}, fields...)...)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line != "" && !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "Completion ended") {
				got = append(got, line)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("complete %q: %q, want %q", args, got, want)
		}
	}
}
