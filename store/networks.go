package store

import bolt "go.etcd.io/bbolt"

var keyAPISpec = []byte("api")

// SaveNetworks stores the networks, trunks and ACL rules declared through
// the API (the config file's are in the file).
func (s *Bolt) SaveNetworks(data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketNetworks)).Put(keyAPISpec, data)
	})
}

// LoadNetworks returns the stored API declarations, nil when there are none.
func (s *Bolt) LoadNetworks() ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte(bucketNetworks)).Get(keyAPISpec); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
