// Package store is Loom's persistence: a bbolt file whose buckets are
// declared in one registry with a schema version. A file written by a newer
// Loom, or one that is not a Loom database, is refused with a clear error
// at start and never silently reset.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this build reads and writes.
const SchemaVersion = 1

// Buckets is the registry of every bucket Loom uses.
var Buckets = []string{
	bucketMeta,
}

const (
	bucketMeta = "meta"
	keySchema  = "schema_version"
)

// ErrNewerSchema means the file was written by a newer Loom.
var ErrNewerSchema = errors.New("database schema is newer than this loomd")

// Store is an open database.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the database at path. A file locked by
// another process fails after a short wait instead of hanging.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("database %s is locked: is another loomd using it?", path)
		}
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// init creates the registry's buckets and checks the schema version.
func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range Buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket([]byte(bucketMeta))
		v := meta.Get([]byte(keySchema))
		switch {
		case v == nil:
			return meta.Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, SchemaVersion))
		case len(v) != 4:
			return fmt.Errorf("meta/%s is %d bytes, not a schema version: not a Loom database?", keySchema, len(v))
		}
		if got := binary.BigEndian.Uint32(v); got > SchemaVersion {
			return fmt.Errorf("%w: file has version %d, this build reads up to %d", ErrNewerSchema, got, SchemaVersion)
		}
		return nil
	})
}

// Schema returns the file's schema version.
func (s *Store) Schema() (uint32, error) {
	var v uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket([]byte(bucketMeta)).Get([]byte(keySchema)))
		return nil
	})
	return v, err
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }
