// Command loomctl is the operator's CLI for Loom. It is only a gRPC client
// of loomd's API: everything it shows, an external app can read the same
// way.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "loomctl:", oneLine(err))
		os.Exit(1)
	}
}
