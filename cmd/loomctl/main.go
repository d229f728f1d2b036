// Command loomctl is the operator's CLI for Loom. It is only a gRPC client
// of loomd's API: everything it shows, an external app can read the same
// way.
package main

import (
	"fmt"
	"os"
)

func main() {
	root := newRoot()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "loomctl:", explain(err, root.PersistentFlags().Lookup("server").Value.String()))
		os.Exit(1)
	}
}
