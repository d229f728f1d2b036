package store

import (
	"path/filepath"
	"testing"
	"time"
)

// Events survive a reopen, only the newest keep of them, in order.
func TestEventsAreKeptBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loom.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_800_000_000, 0).UTC()
	for seq := uint64(1); seq <= 25; seq += 5 {
		var batch []StoredEvent
		for i := uint64(0); i < 5; i++ {
			batch = append(batch, StoredEvent{Seq: 1000 + seq + i, Time: at, Kind: "switch", Subject: "br", Message: "m"})
		}
		if err := s.SaveEvents(batch, 12); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LoadEvents()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 || got[0].Seq != 1014 || got[11].Seq != 1025 || !got[0].Time.Equal(at) || got[0].Kind != "switch" {
		t.Fatalf("loaded %d events, first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
}
