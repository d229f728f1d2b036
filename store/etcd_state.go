package store

import (
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// topologyKey is this instance's own: each instance keeps the model of
// the switches it sees.
func (e *Etcd) topologyKey() string { return e.prefix + "topology/" + e.instance }

func (e *Etcd) networksKey() string { return e.prefix + "networks" }

// SaveTopology implements Store.
func (e *Etcd) SaveTopology(data []byte) error {
	k := e.topologyKey()
	ctx, cancel := e.request()
	defer cancel()
	if _, err := e.cli.Put(ctx, k, string(data)); err != nil {
		return e.fail(k, err)
	}
	return nil
}

// LoadTopology implements Store.
func (e *Etcd) LoadTopology() ([]byte, error) {
	data, _, _, err := e.get(e.topologyKey())
	return data, err
}

// get reads one key: its value (nil when absent, never nil when
// present), its ModRevision (0 when absent) and the store's revision.
func (e *Etcd) get(k string) (data []byte, mod, rev int64, err error) {
	ctx, cancel := e.request()
	defer cancel()
	resp, err := e.cli.Get(ctx, k)
	if err != nil {
		return nil, 0, 0, e.fail(k, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, resp.Header.Revision, nil
	}
	kv := resp.Kvs[0]
	return append([]byte{}, kv.Value...), kv.ModRevision, resp.Header.Revision, nil
}

// SaveNetworks implements Store as a compare-and-swap: it writes only if
// nobody changed the key since this instance last read or wrote it (an
// error wrapping ErrConflict otherwise), so two instances editing the
// API's networks at once cannot silently undo each other's edits.
func (e *Etcd) SaveNetworks(data []byte) error {
	k := e.networksKey()
	e.netMu.Lock()
	defer e.netMu.Unlock()
	ctx, cancel := e.request()
	defer cancel()
	// An absent key's ModRevision compares as 0: "must not exist".
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(k), "=", e.netRev)).
		Then(clientv3.OpPut(k, string(data))).
		Commit()
	if err != nil {
		return e.fail(k, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd key %s: %w", k, ErrConflict)
	}
	e.netRev, e.netSeen = resp.Header.Revision, max(e.netSeen, resp.Header.Revision)
	return nil
}

// LoadNetworks implements Store and remembers the revision read, which
// the next SaveNetworks expects.
func (e *Etcd) LoadNetworks() ([]byte, error) {
	e.netMu.Lock()
	defer e.netMu.Unlock()
	data, mod, rev, err := e.get(e.networksKey())
	if err != nil {
		return nil, err
	}
	e.netRev, e.netSeen = mod, max(e.netSeen, rev)
	return data, nil
}
