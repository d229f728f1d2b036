package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/loomsdn/loom/store"
)

// openDB opens the database at path, creating its directory (so the
// README's --db /var/lib/loom/loom.db works on a fresh machine). The
// returned cleanup, called once loomd is done, removes a file this run
// created when the start failed (a bad flag, a port in use): a failed
// first start leaves nothing behind to be mistaken for state.
func openDB(path string) (*store.Bolt, func(started bool), error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("--db: creating %s: %w", dir, err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	db, err := store.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return db, func(started bool) {
		if created && !started {
			os.Remove(path)
		}
	}, nil
}
