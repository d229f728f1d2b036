package harness

import (
	"fmt"
	"os"
	"strings"
)

// nsName is the namespace name for a lab object: "lm" + lab id + "-" + name.
// The random lab id keeps parallel labs (and parallel test binaries) apart.
func (l *Lab) nsName(name string) string {
	return fmt.Sprintf("lm%s-%s", l.id, name)
}

// newNetns creates a namespace for the lab object called name, brings its
// loopback up, turns IPv6 off and registers its deletion. IPv6 is turned off
// so that router solicitations, DAD and MLD chatter do not reach switches
// and controllers: tests see only the traffic they send.
func (l *Lab) newNetns(name string) string {
	l.t.Helper()
	l.mu.Lock()
	if l.names[name] {
		l.mu.Unlock()
		l.t.Fatalf("harness: name %q already used in this lab", name)
	}
	l.names[name] = true
	l.mu.Unlock()

	ns := l.nsName(name)
	if _, err := run(cmdTimeout, nil, "ip", "netns", "add", ns); err != nil {
		l.t.Fatalf("harness: %v", err)
	}
	// Only delete what we created: registered after a successful add.
	l.onClose(func() { l.deleteNetns(ns) })

	steps := [][]string{{"ip", "-n", ns, "link", "set", "lo", "up"}}
	if _, err := os.Stat("/proc/sys/net/ipv6"); err == nil { // kernel has IPv6
		steps = append(steps, inNS(ns, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"))
	}
	for _, s := range steps {
		if _, err := run(cmdTimeout, nil, s[0], s[1:]...); err != nil {
			l.t.Fatalf("harness: namespace %s: %v", ns, err)
		}
	}
	return ns
}

// deleteNetns removes a namespace the lab created. A namespace that is
// already gone is fine; failing to delete one is a leak and fails the test.
func (l *Lab) deleteNetns(ns string) {
	out, err := run(cmdTimeout, nil, "ip", "netns", "delete", ns)
	if err != nil && !strings.Contains(out, "No such file") {
		l.t.Errorf("harness: leaking namespace: %v", err)
	}
}
