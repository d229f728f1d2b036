package store

import (
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Hosts in a cluster. A host (a VM's MAC, where it was seen, its IPs) is
// learned from packet-ins, which only a switch's master hears: the
// master publishes the hosts it sees under hosts/MAC so every instance
// knows them and computes the same flows (the tunnel mesh's remote MACs).
// Written like the apps' declarations: only by the master of the switch
// the host was seen on, guarded by its election key.

// HostRecord is one shared host: Data is the host as the topology
// marshals it; Delete (with no Data) says it is gone.
type HostRecord struct {
	MAC    string
	DPID   uint64 // the switch it was seen on: whose master may write it
	Data   []byte
	Delete bool
}

func (e *Etcd) hostsRoot() string { return e.prefix + "hosts/" }

// SaveHosts writes hosts seen on switches this instance masters; the
// rest are dropped and counted, as SaveDesired's.
func (e *Etcd) SaveHosts(hosts []HostRecord) error {
	byDPID := map[uint64]*desiredGroup{}
	var order []uint64
	for _, h := range hosts {
		if h.MAC == "" || strings.Contains(h.MAC, "/") {
			return fmt.Errorf("host MAC %q: empty or contains /", h.MAC)
		}
		g := byDPID[h.DPID]
		if g == nil {
			g = &desiredGroup{dpid: h.DPID, index: map[string]int{}}
			byDPID[h.DPID] = g
			order = append(order, h.DPID)
		}
		g.add(e.hostsRoot()+h.MAC, DesiredChange{DPID: h.DPID, App: "hosts", Key: h.MAC, Delete: h.Delete,
			Flows: []string{string(h.Data)}})
	}
	for _, d := range order {
		if err := e.saveGuarded(byDPID[d]); err != nil {
			return err
		}
	}
	return nil
}

// LoadHosts calls fn for every shared host.
func (e *Etcd) LoadHosts(fn func(HostRecord) error) error {
	root := e.hostsRoot()
	_, err := e.walk(root, clientv3.GetPrefixRangeEnd(root), 0, func(k string, v []byte, _ int64) error {
		mac := strings.TrimPrefix(k, root)
		e.noteHost(mac, false)
		return fn(HostRecord{MAC: mac, Data: append([]byte(nil), v...)})
	})
	return err
}

// noteHost keeps hostsKnown up to date.
func (e *Etcd) noteHost(mac string, deleted bool) {
	e.extMu.Lock()
	defer e.extMu.Unlock()
	if deleted {
		delete(e.hostsKnown, mac)
	} else {
		e.hostsKnown[mac] = true
	}
}

// resyncHosts re-reads hosts/ at rev after a watch that was away (a
// compaction, a broken stream): every host is reported again, and every
// one known before but gone now as deleted.
func (w *watcher) resyncHosts(rev int64) error {
	e := w.e
	root := e.hostsRoot()
	var puts []HostRecord
	present := map[string]bool{}
	_, err := e.walk(root, clientv3.GetPrefixRangeEnd(root), rev, func(k string, v []byte, _ int64) error {
		mac := strings.TrimPrefix(k, root)
		present[mac] = true
		puts = append(puts, HostRecord{MAC: mac, Data: append([]byte(nil), v...)})
		return nil
	})
	if err != nil {
		return err
	}
	e.extMu.Lock()
	var gone []string
	for mac := range e.hostsKnown {
		if !present[mac] {
			gone = append(gone, mac)
		}
	}
	e.hostsKnown = present
	e.extMu.Unlock()
	if w.h.Hosts == nil {
		return nil
	}
	for _, mac := range gone {
		w.h.Hosts(HostRecord{MAC: mac, Delete: true})
	}
	for _, h := range puts {
		w.h.Hosts(h)
	}
	return nil
}

// hostEvent turns a watched write under hosts/ into its record.
func (e *Etcd) hostEvent(key string, value []byte, deleted bool) (HostRecord, bool) {
	mac, ok := strings.CutPrefix(key, e.hostsRoot())
	if !ok || mac == "" {
		return HostRecord{}, false
	}
	if deleted {
		return HostRecord{MAC: mac, Delete: true}, true
	}
	return HostRecord{MAC: mac, Data: append([]byte(nil), value...)}, true
}
