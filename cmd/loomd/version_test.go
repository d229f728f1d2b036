package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --help and --version succeed; a stray argument is an error, not a
// daemon started with defaults.
func TestCommandLineHygiene(t *testing.T) {
	if err := run([]string{"--help"}); err != nil {
		t.Fatalf("--help: %v, want success", err)
	}
	if err := run([]string{"--version"}); err != nil {
		t.Fatalf("--version: %v", err)
	}
	err := run([]string{"version"})
	if err == nil || !strings.Contains(err.Error(), `unexpected argument "version"`) {
		t.Fatalf("a stray argument: %v, want it refused", err)
	}
}

// The database's directory is made; a file this run created goes again
// when the start fails, and stays once loomd started or when it was there.
func TestOpenDBCreatesAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "var", "lib", "loom", "loom.db")
	db, cleanup, err := openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cleanup(false)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a failed first start left %s (%v)", path, err)
	}
	db, cleanup, err = openDB(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cleanup(true)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a started loomd's database is gone: %v", err)
	}
	db, cleanup, err = openDB(path) // there before this run: kept whatever happens
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	cleanup(false)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("an existing database was removed: %v", err)
	}
}
