package cluster

import (
	"encoding/binary"
	"hash/fnv"
)

// preferred picks, for one switch, the instance with the highest
// rendezvous weight among names: every instance computes the same answer
// from the same set, and when one leaves only its switches move.
func preferred(dpid uint64, names []string) string {
	best, bestW := "", uint64(0)
	for _, n := range names {
		if w := weight(dpid, n); best == "" || w > bestW || w == bestW && n < best {
			best, bestW = n, w
		}
	}
	return best
}

func weight(dpid uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write(binary.BigEndian.AppendUint64(nil, dpid))
	h.Write([]byte(name))
	return mix(h.Sum64())
}

// mix is splitmix64's finaliser: FNV alone leaves nearby dpids' weights
// correlated.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Preferred is the instance of names the cluster prefers as dpid's master
// when all of them are live: what a test or an operator planning where
// switches land can compute without etcd.
func Preferred(dpid uint64, names []string) string { return preferred(dpid, names) }
