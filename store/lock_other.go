//go:build !unix

package store

import (
	"os"
	"time"
)

// lockFile is a no-op where there is no flock: bbolt locks the file itself
// right after the check.
func lockFile(f *os.File, timeout time.Duration) error { return nil }
