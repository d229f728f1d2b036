package topology

import (
	"encoding/json"
	"fmt"
	"time"
)

// persisted is the stored form: the inputs, from which join reproduces
// the model, and the revision, so revisions go on above it after a
// restart (restartRevision). It is JSON because it is read back by later
// Looms: a field's name here is a file format, not a Go detail.
type persisted struct {
	Revision uint64 `json:"revision"`
	Inputs   inputs `json:"inputs"`
}

// Marshal returns the persisted form.
func (t *Topology) Marshal() ([]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return json.Marshal(persisted{t.view.Revision, t.in})
}

// Restore loads a persisted model. Everything comes back as it was, but
// not connected: live reports replace it as they arrive.
func (t *Topology) Restore(data []byte) error {
	var saved persisted
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("stored topology: %w", err)
	}
	in := saved.Inputs
	for k, s := range in.OVSDB {
		s.Connected = false
		in.OVSDB[k] = s
	}
	for k, s := range in.Switches {
		s.Connected = false
		in.Switches[k] = s
	}
	fresh := newInputs() // a file from an older Loom may lack some maps
	if in.Configured == nil {
		in.Configured = fresh.Configured
	}
	if in.OVSDB == nil {
		in.OVSDB = fresh.OVSDB
	}
	if in.Switches == nil {
		in.Switches = fresh.Switches
	}
	if in.Links == nil {
		in.Links = fresh.Links
	}
	if in.Hosts == nil {
		in.Hosts = fresh.Hosts
	}
	if in.Claims == nil {
		reclaim(&in)
	}
	t.mu.Lock()
	t.in = in
	t.bridges = bridgeIndex(in)
	t.view = join(in)
	t.view.Revision = restartRevision(saved.Revision, time.Now())
	t.log.Reset(t.view.Revision)
	t.indexPorts()
	t.mu.Unlock()
	return nil
}

// restartRevision is where a restored model's revisions go on: above the
// saved one and above any the previous run may have handed out after it
// was saved (kill -9 loses the last few), taken as the clock in
// microseconds, which no run outpaces with one commit per microsecond.
// A watcher resuming across the restart then gets ErrRevisionGone and
// lists again, instead of being told its revision is in the future.
func restartRevision(saved uint64, now time.Time) uint64 {
	return max(saved, uint64(now.UnixMicro()))
}
