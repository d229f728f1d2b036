package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// probeKeyLen is the size of the cluster's LLDP probe key.
const probeKeyLen = 32

// ProbeKey returns the key every instance of the cluster signs its LLDP
// probes with, made by the first instance to ask: a probe one instance
// sends out of a switch is heard by the master of the switch it comes in
// on, which must be able to tell it from a forgery.
func (e *Etcd) ProbeKey(ctx context.Context) ([]byte, error) {
	k := e.prefix + "meta/lldp-key"
	fresh := make([]byte, probeKeyLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, hex.EncodeToString(fresh))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("etcd key %s: %w", k, err)
	}
	if resp.Succeeded {
		return fresh, nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return nil, fmt.Errorf("etcd key %s: vanished while read", k)
	}
	key, err := hex.DecodeString(string(kvs[0].Value))
	if err != nil || len(key) != probeKeyLen {
		return nil, fmt.Errorf("etcd key %s holds %d bytes that are not a %d-byte hex key: delete it and restart every instance",
			k, len(kvs[0].Value), probeKeyLen)
	}
	return key, nil
}
