package store

import (
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Observations in a cluster. Some state is seen only by a switch's
// master, because only the master hears its packet-ins: the hosts behind
// it (a VM's MAC, where it was seen, its IPs) and the LLDP probes that
// come in on it. The master publishes them under KIND/KEY so every
// instance knows them and computes the same flows (the tunnel mesh's
// remote MACs) and the same links. Written like the apps' declarations:
// only by the master of the switch the observation was made on, guarded
// by its election key.

// Kinds of observation.
const (
	ObservedHosts = "hosts" // key: the MAC; data: the host as the topology marshals it
	ObservedLinks = "links" // key: a probe's direction FROM>TO; data: the publishing instance
)

// observedKinds lists every kind, for loads and resyncs.
var observedKinds = []string{ObservedHosts, ObservedLinks}

// Observed is one shared observation. Delete (with no Data) says it is
// gone.
type Observed struct {
	Kind   string
	Key    string
	DPID   uint64 // the switch it was made on: whose master may write it
	Data   []byte
	Delete bool
}

func (e *Etcd) observedRoot(kind string) string { return e.prefix + kind + "/" }

// ErrNotMaster says an observation was not written because this
// instance was not (at that moment) the master of its switch: a caller
// that still believes it is may try again.
var ErrNotMaster = errors.New("not the switch's master in the cluster's store")

// SaveObserved writes observations made on switches this instance
// masters; the rest are dropped and counted, as SaveDesired's, and the
// error (ErrNotMaster) names their switches.
func (e *Etcd) SaveObserved(obs []Observed) error {
	byDPID := map[uint64]*desiredGroup{}
	var order []uint64
	for _, o := range obs {
		if !knownKind(o.Kind) {
			return fmt.Errorf("observation kind %q: not one of %v", o.Kind, observedKinds)
		}
		if o.Key == "" || strings.Contains(o.Key, "/") {
			return fmt.Errorf("%s key %q: empty or contains /", o.Kind, o.Key)
		}
		g := byDPID[o.DPID]
		if g == nil {
			g = &desiredGroup{dpid: o.DPID, index: map[string]int{}}
			byDPID[o.DPID] = g
			order = append(order, o.DPID)
		}
		g.add(e.observedRoot(o.Kind)+o.Key, DesiredChange{DPID: o.DPID, App: o.Kind, Key: o.Key, Delete: o.Delete,
			Flows: []string{string(o.Data)}})
	}
	var notMaster []string
	for _, d := range order {
		written, err := e.saveGuarded(byDPID[d])
		if err != nil {
			return err
		}
		if !written {
			notMaster = append(notMaster, fmt.Sprintf("0x%016x", d))
		}
	}
	if len(notMaster) > 0 {
		return fmt.Errorf("%w: switches %s", ErrNotMaster, strings.Join(notMaster, ", "))
	}
	return nil
}

func knownKind(kind string) bool {
	for _, k := range observedKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// LoadObserved calls fn for every shared observation of kind.
func (e *Etcd) LoadObserved(kind string, fn func(Observed) error) error {
	root := e.observedRoot(kind)
	_, err := e.walk(root, clientv3.GetPrefixRangeEnd(root), 0, func(k string, v []byte, _ int64) error {
		key := strings.TrimPrefix(k, root)
		e.noteObserved(kind+"/"+key, false)
		return fn(Observed{Kind: kind, Key: key, Data: append([]byte(nil), v...)})
	})
	return err
}

// noteObserved keeps observedKnown up to date; full is KIND/KEY.
func (e *Etcd) noteObserved(full string, deleted bool) {
	e.extMu.Lock()
	defer e.extMu.Unlock()
	if deleted {
		delete(e.observedKnown, full)
	} else {
		e.observedKnown[full] = true
	}
}

// resyncObserved re-reads every kind at rev after a watch that was away
// (a compaction, a broken stream): every observation is reported again,
// and every one known before but gone now as deleted.
func (w *watcher) resyncObserved(rev int64) error {
	e := w.e
	var puts []Observed
	present := map[string]bool{}
	for _, kind := range observedKinds {
		root := e.observedRoot(kind)
		_, err := e.walk(root, clientv3.GetPrefixRangeEnd(root), rev, func(k string, v []byte, _ int64) error {
			key := strings.TrimPrefix(k, root)
			present[kind+"/"+key] = true
			puts = append(puts, Observed{Kind: kind, Key: key, Data: append([]byte(nil), v...)})
			return nil
		})
		if err != nil {
			return err
		}
	}
	e.extMu.Lock()
	var gone []string
	for full := range e.observedKnown {
		if !present[full] {
			gone = append(gone, full)
		}
	}
	e.observedKnown = present
	e.extMu.Unlock()
	if w.h.Observed == nil {
		return nil
	}
	for _, full := range gone {
		kind, key, _ := strings.Cut(full, "/")
		w.h.Observed(Observed{Kind: kind, Key: key, Delete: true})
	}
	for _, o := range puts {
		w.h.Observed(o)
	}
	return nil
}

// observedEvent turns a watched write under one of the kinds' roots into
// its observation.
func (e *Etcd) observedEvent(key string, value []byte, deleted bool) (Observed, bool) {
	for _, kind := range observedKinds {
		k, ok := strings.CutPrefix(key, e.observedRoot(kind))
		if !ok || k == "" {
			continue
		}
		if deleted {
			return Observed{Kind: kind, Key: k, Delete: true}, true
		}
		return Observed{Kind: kind, Key: k, Data: append([]byte(nil), value...)}, true
	}
	return Observed{}, false
}
