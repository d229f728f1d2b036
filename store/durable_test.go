package store

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func loadAll(t *testing.T, s *Bolt) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if err := s.LoadDesired(func(c DesiredChange) error {
		out[c.App+"/"+c.Key] = c.Flows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// A batch is one transaction: when one change in it is refused, none of
// it is written (the controller then reports the whole group as failed
// and applies nothing), and the store keeps taking later batches.
func TestRefusedBatchWritesNothing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loom.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveDesired([]DesiredChange{{DPID: 1, App: "external", Key: "a", Flows: []string{"f1"}}}); err != nil {
		t.Fatal(err)
	}
	err = s.SaveDesired([]DesiredChange{
		{DPID: 1, App: "external", Key: "a", Flows: []string{"f2"}},
		{DPID: 2, App: "external", Key: "b", Flows: []string{"f3"}},
		{DPID: 1, App: "bad\x00app", Key: "c", Flows: []string{"f4"}},
	})
	if err == nil {
		t.Fatal("a batch with an app name holding NUL was accepted")
	}
	got := loadAll(t, s)
	if len(got) != 1 || len(got["external/a"]) != 1 || got["external/a"][0] != "f1" {
		t.Fatalf("a refused batch was partly written: %v", got)
	}
	if err := s.SaveDesired([]DesiredChange{{DPID: 2, App: "external", Key: "b", Flows: []string{"f3"}}}); err != nil {
		t.Fatalf("the store refuses writes after a failed batch: %v", err)
	}
	if got := loadAll(t, s); len(got) != 2 {
		t.Fatalf("after the retry: %v", got)
	}
}

// Deleting what was never stored (a DeleteFlows for an unknown switch)
// is written as a no-op: it creates no switch bucket.
func TestDeletingTheUnknownCreatesNothing(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "loom.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveDesired([]DesiredChange{{DPID: 7, App: "external", Key: "x", Delete: true}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.LoadDesired(func(DesiredChange) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	var buckets int
	s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketDesired)).ForEachBucket(func([]byte) error { buckets++; return nil })
	})
	if n != 0 || buckets != 0 {
		t.Fatalf("a deletion of nothing left %d declarations and %d switch buckets", n, buckets)
	}
}
