package store

import bolt "go.etcd.io/bbolt"

var keyModel = []byte("model")

// SaveTopology implements Store.
func (s *Bolt) SaveTopology(data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTopology)).Put(keyModel, data)
	})
}

// LoadTopology implements Store.
func (s *Bolt) LoadTopology() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketTopology)).Get(keyModel); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
