package store

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesSchema(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Schema(); err != nil || v != SchemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
	s.Close()
	if s, err = Open(p); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

func TestNewerSchemaIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	db, _ := bolt.Open(p, 0o600, nil)
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		return b.Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	})
	db.Close()
	if _, err := Open(p); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("got %v, want ErrNewerSchema", err)
	}
}

func TestCorruptFileIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	os.WriteFile(p, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	if _, err := Open(p); err == nil {
		t.Fatal("opened a corrupt file")
	}
	if b, _ := os.ReadFile(p); !strings.HasPrefix(string(b), "not a database") {
		t.Fatal("the corrupt file was overwritten")
	}
}
