package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command has an Examples section, every example names its own
// command, and the table names no command that does not exist.
func TestEveryCommandHasExamples(t *testing.T) {
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		seen[path] = true
		if c.Example == "" {
			t.Errorf("%s has no Examples (add it to examples.go)", path)
		}
		for _, ex := range examples[path] {
			if !strings.Contains(ex, path) && path != "loomctl" {
				t.Errorf("%s: example %q is not of this command", path, ex)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
	for path := range examples {
		if !seen[path] {
			t.Errorf("examples.go names %q, which is no command", path)
		}
	}
}

// Every example parses: its command exists and its flags are that
// command's (what follows a pipe is the shell's).
func TestExamplesParse(t *testing.T) {
	for path, exs := range examples {
		for _, ex := range exs {
			line, _, _ := strings.Cut(ex, "|")
			fields := strings.Fields(strings.ReplaceAll(line, "'", ""))
			for len(fields) > 0 && strings.Contains(fields[0], "=") { // LOOM_TOKEN=... loomctl
				fields = fields[1:]
			}
			if len(fields) == 0 || fields[0] != "loomctl" {
				t.Errorf("%s: %q does not run loomctl", path, ex)
				continue
			}
			root := newRoot()
			cmd, rest, err := root.Find(fields[1:])
			if err != nil {
				t.Errorf("%s: %q: %v", path, ex, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: %q: %v", path, ex, err)
			}
		}
	}
}
