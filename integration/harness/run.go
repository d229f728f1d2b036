package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// cmdTimeout bounds every short-lived command the harness runs. ovs-vsctl is
// additionally given --timeout, but a wedged ovsdb-server or a stuck `ip`
// must never be able to hang a test run, so everything goes through run.
const cmdTimeout = 30 * time.Second

// run executes name with args, returning combined stdout+stderr. The error,
// if any, names the command and carries its output so test failures are
// self-explanatory. env is appended to the current environment.
func run(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// If the killed command left a grandchild holding the output pipe,
	// don't wait for it forever.
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// inNS prefixes args with `ip netns exec NS` when ns is not empty, so the
// program runs inside that namespace. `ip netns exec` execs the program, so
// the PID of the started command is the PID of the program itself.
func inNS(ns string, args ...string) []string {
	if ns == "" {
		return args
	}
	return append([]string{"ip", "netns", "exec", ns}, args...)
}

// runIn runs args (program first) inside ns ("" = current namespace).
func runIn(timeout time.Duration, ns string, args ...string) (string, error) {
	full := inNS(ns, args...)
	return run(timeout, nil, full[0], full[1:]...)
}

// waitFor polls cond every interval until it returns nil or timeout passes;
// it returns the last error from cond.
func waitFor(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
