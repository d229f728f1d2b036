// Package store is Loom's persistence: a bbolt file whose buckets are
// declared in one registry with a schema version. A file written by a newer
// Loom, or one that is not a Loom database, is refused with a clear error
// at start and never silently reset.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this build reads and writes.
const SchemaVersion = 1

// Buckets is the registry of every bucket Loom uses.
var Buckets = []string{
	bucketMeta,
	bucketDesired,
	bucketTopology,
	bucketNetworks,
	bucketEvents,
}

const (
	bucketMeta     = "meta"
	bucketDesired  = "desired"  // dpid (8 bytes BE) -> app NUL key -> flows, one per line
	bucketTopology = "topology" // "model" -> the topology's persisted form (JSON)
	bucketNetworks = "networks" // "api" -> the API's network declarations (JSON); a bucket added within schema 1
	bucketEvents   = "events"   // seq (8 bytes BE) -> an operator event (JSON); the newest kept; added within schema 1
	keySchema      = "schema_version"
)

// migrations[v] upgrades a file from schema v to v+1 inside one
// transaction. Empty while there has only been one schema.
var migrations = map[uint32]func(tx *bolt.Tx) error{}

// ErrNewerSchema means the file was written by a newer Loom.
var ErrNewerSchema = errors.New("database schema is newer than this loomd")

// ErrIndeterminate means a write to etcd timed out: it may still commit.
var ErrIndeterminate = errors.New("outcome unknown")

// ErrConflict means a compare-and-swap write found the stored value
// changed since this instance read it (the etcd store's networks).
var ErrConflict = errors.New("changed by another loomd instance since this one read it: read again and retry")

// ExternalApp is the app name of the declarations made through the API
// (the controller's externalApp). In a cluster they are shared: any
// instance writes them, not only the switch's master.
const ExternalApp = "external"

// Store is what Loom persists. Bolt is the embedded backend; a clustered
// one (etcd) implements the same interface.
type Store interface {
	// SaveDesired applies changes in one transaction and returns only
	// after it is durably committed.
	SaveDesired(changes []DesiredChange) error
	// LoadDesired calls fn for every stored declaration.
	LoadDesired(fn func(DesiredChange) error) error
	// SaveTopology stores the topology model (durably, like SaveDesired).
	SaveTopology(data []byte) error
	// LoadTopology returns the stored model, nil when there is none.
	LoadTopology() ([]byte, error)
	// SaveNetworks stores the API's network declarations (durably).
	SaveNetworks(data []byte) error
	// LoadNetworks returns them, nil when there are none.
	LoadNetworks() ([]byte, error)
	Close() error
}

// DesiredChange is one app declaration on one switch: the flows in their
// canonical text form, or a deletion.
type DesiredChange struct {
	DPID   uint64
	App    string
	Key    string
	Flows  []string
	Delete bool
}

// Bolt is the bbolt-backed Store.
type Bolt struct {
	db *bolt.DB
}

// Open opens (creating if needed) the database at path. A file locked by
// another process fails after a short wait instead of hanging. A file that
// is truncated or whose header is damaged is refused (a *FileError,
// wrapping ErrCorrupt) before bbolt maps it: bbolt would fault on it.
func Open(path string) (*Bolt, error) {
	var refused *FileError
	opts := &bolt.Options{Timeout: lockWait, OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		if err != nil {
			return nil, err
		}
		// Take bbolt's lock on this descriptor first (bbolt's own flock on
		// it then succeeds at once), so no writer changes the file while
		// it is checked.
		if err := lockFile(f, lockWait); err != nil {
			f.Close()
			return nil, err
		}
		why, err := checkFile(f)
		if err == nil && why != "" {
			refused = &FileError{Path: path, Reason: why}
			err = refused
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}}
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		switch {
		case refused != nil:
			return nil, refused
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("database %s is locked: is another loomd using it?", path)
		}
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	s := &Bolt{db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// lockWait is how long Open waits for another process's lock.
const lockWait = 2 * time.Second

// init creates the registry's buckets and checks the schema version.
func (s *Bolt) init() error {
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
		got := binary.BigEndian.Uint32(v)
		if got > SchemaVersion {
			return fmt.Errorf("%w: file has version %d, this build reads up to %d", ErrNewerSchema, got, SchemaVersion)
		}
		for ; got < SchemaVersion; got++ {
			m, ok := migrations[got]
			if !ok {
				return fmt.Errorf("no migration from schema %d to %d", got, got+1)
			}
			if err := m(tx); err != nil {
				return fmt.Errorf("migrating schema %d to %d: %w", got, got+1, err)
			}
		}
		return meta.Put([]byte(keySchema), binary.BigEndian.AppendUint32(nil, SchemaVersion))
	})
}

// Schema returns the file's schema version.
func (s *Bolt) Schema() (uint32, error) {
	var v uint32
	err := s.db.View(func(tx *bolt.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket([]byte(bucketMeta)).Get([]byte(keySchema)))
		return nil
	})
	return v, err
}

// Close closes the database.
func (s *Bolt) Close() error { return s.db.Close() }
