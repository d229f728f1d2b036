package store

import (
	"encoding/binary"
	"errors"
	"fmt"
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

func TestDesiredRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	s, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	err = s.SaveDesired([]DesiredChange{
		{DPID: 0xc1, App: "l2", Key: "mac/02:00:00:00:00:01", Flows: []string{"table=0, priority=100 actions=drop", "table=1, priority=0 actions=FLOOD"}},
		{DPID: 0xc1, App: "l2", Key: "gone", Flows: []string{"x"}},
		{DPID: 0xc2, App: "l2", Key: "empty"},
	})
	if err == nil {
		err = s.SaveDesired([]DesiredChange{{DPID: 0xc1, App: "l2", Key: "gone", Delete: true}})
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(p)
	defer s.Close()
	got := map[string][]string{}
	s.LoadDesired(func(c DesiredChange) error {
		got[fmt.Sprintf("%x/%s/%s", c.DPID, c.App, c.Key)] = c.Flows
		return nil
	})
	if len(got) != 2 || len(got["c1/l2/mac/02:00:00:00:00:01"]) != 2 || got["c1/l2/mac/02:00:00:00:00:01"][1] != "table=1, priority=0 actions=FLOOD" {
		t.Fatalf("loaded %v", got)
	}
	if fl, ok := got["c2/l2/empty"]; !ok || len(fl) != 0 {
		t.Fatalf("empty declaration loaded as %v, %v", fl, ok)
	}
}

func TestTopologyRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "loom.db")
	s, _ := Open(p)
	if got, err := s.LoadTopology(); err != nil || got != nil {
		t.Fatalf("empty store returned %q, %v", got, err)
	}
	if err := s.SaveTopology([]byte(`{"revision":7}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = Open(p)
	defer s.Close()
	if got, _ := s.LoadTopology(); string(got) != `{"revision":7}` {
		t.Fatalf("loaded %q", got)
	}
}
