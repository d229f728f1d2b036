package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func dpidKey(dpid uint64) []byte { return binary.BigEndian.AppendUint64(nil, dpid) }

func ownerKey(app, key string) []byte { return []byte(app + "\x00" + key) }

// SaveDesired implements Store: one bbolt transaction, fsynced on commit.
func (s *Bolt) SaveDesired(changes []DesiredChange) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket([]byte(bucketDesired))
		for _, c := range changes {
			if strings.Contains(c.App, "\x00") {
				return fmt.Errorf("app name %q contains NUL", c.App)
			}
			k := ownerKey(c.App, c.Key)
			if c.Delete {
				// A deletion of what was never stored creates nothing.
				if sw := root.Bucket(dpidKey(c.DPID)); sw != nil {
					if err := sw.Delete(k); err != nil {
						return err
					}
				}
				continue
			}
			sw, err := root.CreateBucketIfNotExists(dpidKey(c.DPID))
			if err != nil {
				return err
			}
			if err := sw.Put(k, []byte(strings.Join(c.Flows, "\n"))); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadDesired implements Store.
func (s *Bolt) LoadDesired(fn func(DesiredChange) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketDesired)).ForEachBucket(func(dk []byte) error {
			if len(dk) != 8 {
				return fmt.Errorf("desired/%x: not a datapath id", dk)
			}
			dpid := binary.BigEndian.Uint64(dk)
			return tx.Bucket([]byte(bucketDesired)).Bucket(dk).ForEach(func(k, v []byte) error {
				app, key, ok := bytes.Cut(k, []byte{0})
				if !ok {
					return fmt.Errorf("desired/%016x/%q: no app separator", dpid, k)
				}
				var flows []string
				if len(v) > 0 {
					flows = strings.Split(string(v), "\n")
				}
				return fn(DesiredChange{DPID: dpid, App: string(app), Key: string(key), Flows: flows})
			})
		})
	})
}
