package store

import (
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoredEvent is an operator event as kept on disk.
type StoredEvent struct {
	Seq     uint64    `json:"-"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Message string    `json:"message"`
}

// EventStore keeps the newest operator events across restarts; Bolt is
// one (a store without it keeps events in memory only).
type EventStore interface {
	// SaveEvents adds events and drops the oldest beyond keep, in one
	// transaction.
	SaveEvents(events []StoredEvent, keep int) error
	// LoadEvents returns the kept events, oldest first.
	LoadEvents() ([]StoredEvent, error)
}

// SaveEvents implements EventStore.
func (s *Bolt) SaveEvents(events []StoredEvent, keep int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketEvents))
		for _, e := range events {
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, e.Seq), v); err != nil {
				return err
			}
		}
		// Counted by walking the keys: Stats does not see this
		// transaction's own writes. A few thousand keys, once a second.
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		var old [][]byte // collected first: deleting under a cursor skips keys
		for k, _ := c.First(); k != nil && len(old) < n-keep; k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadEvents implements EventStore. A record that does not decode is
// skipped: an event history is not worth refusing a start for.
func (s *Bolt) LoadEvents() ([]StoredEvent, error) {
	var out []StoredEvent
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketEvents)).ForEach(func(k, v []byte) error {
			var e StoredEvent
			if len(k) != 8 || json.Unmarshal(v, &e) != nil {
				return nil
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
			return nil
		})
	})
	return out, err
}
