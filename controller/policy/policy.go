// Package policy is the network policy service: the networks, trunks and
// ACL rules the config file and the API declare, merged, compiled and
// applied to every switch through the runtime (controller). It knows no
// wire format (controller/northbound converts) and no app: it swaps the
// policy the apps read and asks the runtime to refresh.
//
// Changes are serialised by one lock that covers validating, storing and
// swapping, and not the refresh after it: a switch slow to take its turn
// cannot hold up the next change (the refresh always reads the latest
// policy, so each caller still returns after its change is on every
// switch that answers).
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
)

// Runtime is what the service needs of the controller.
type Runtime interface {
	// Refresh recomputes every switch (none named) and waits, bounded;
	// it says what each switch that changed was sent.
	Refresh(dpids ...uint64) []controller.SwitchChange
	// OnEachSwitch runs fn on every ready switch's goroutine.
	OnEachSwitch(fn func(controller.Declarations))
	// Apps are the apps in the order they run.
	Apps() []apps.App
	// Emit records an event for the operator's stream.
	Emit(kind, subject, message string)
}

// Store keeps the API's declarations across restarts.
type Store interface {
	SaveNetworks(data []byte) error
	LoadNetworks() ([]byte, error)
}

// Options configure the service.
type Options struct {
	// Policy is the compiled policy the apps read.
	Policy *network.Holder
	// File is the config file's declarations at start.
	File network.Spec
	// Reload reads the config file again (SIGHUP, the API's Reload); nil
	// when loomd runs without one.
	Reload func() (network.Spec, error)
	// Store keeps the API's declarations (nil: memory only).
	Store Store
	Log   *logrus.Entry
}

// Service is the live network policy.
type Service struct {
	rt Runtime
	o  Options

	mu        sync.Mutex // serialises changes; never held across a refresh
	file, api network.Spec
}

// New returns the service with the file's declarations; Restore adds the
// API's stored ones.
func New(rt Runtime, o Options) *Service {
	if o.Log == nil {
		o.Log = logrus.NewEntry(logrus.StandardLogger())
	}
	return &Service{rt: rt, o: o, file: o.File}
}

// Restore loads the API's declarations an earlier run stored and applies
// them with the file's. Declarations that no longer fit the file (a name
// now in both) are logged and kept in the store, not applied or lost.
// Call it before switches connect.
func (s *Service) Restore() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.o.Store != nil {
		data, err := s.o.Store.LoadNetworks()
		if err != nil {
			return err
		}
		if data != nil {
			if err := json.Unmarshal(data, &s.api); err != nil {
				return fmt.Errorf("stored API networks: %w", err)
			}
		}
	}
	p, err := compileMerged(s.file, s.api)
	if err != nil {
		s.o.Log.WithError(err).Error("the networks and ACLs stored from the API conflict with the config file; running the file's alone (the API's are kept in the database)")
		if p, err = network.Compile(s.file); err != nil {
			return err
		}
	}
	s.o.Policy.Set(p)
	return nil
}

func compileMerged(file, api network.Spec) (*network.Policy, error) {
	merged, err := network.Merge(file, api)
	if err != nil {
		return nil, err
	}
	return network.Compile(merged)
}

// Current is the compiled policy in force.
func (s *Service) Current() *network.Policy { return s.o.Policy.Policy() }

// Specs returns the file's and the API's declarations.
func (s *Service) Specs() (file, api network.Spec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file, s.api
}

// Update changes the API's declarations through fn and applies the
// result. Nothing changes when the result does not validate: the error
// names the field (a *network.FieldError). fn runs under the service's
// lock (it may read s.file; it must not call the service).
func (s *Service) Update(fn func(api *network.Spec) error) error {
	prev, p, err := s.swap(func() (*network.Policy, error) {
		api := clone(s.api)
		if err := fn(&api); err != nil {
			return nil, err
		}
		p, err := compileMerged(s.file, api)
		if err != nil {
			return nil, err
		}
		if s.o.Store != nil {
			data, _ := json.Marshal(api)
			if err := s.o.Store.SaveNetworks(data); err != nil {
				return nil, &controller.StoreError{What: "the API's networks, trunks and ACLs", Err: err}
			}
		}
		s.api = api
		return p, nil
	})
	if err != nil {
		return err
	}
	s.refresh(prev, p, "api")
	return nil
}

// Shared applies the API's declarations as another loomd of the cluster
// stored them (the shared store's watch): every instance then computes
// the same flows, and each switch's master installs them. Declarations
// that do not compile with this instance's file change nothing here.
func (s *Service) Shared(data []byte) {
	var api network.Spec
	if data != nil {
		if err := json.Unmarshal(data, &api); err != nil {
			s.o.Log.WithError(err).Error("the cluster's stored API networks are unreadable; this instance keeps its own")
			return
		}
	}
	prev, p, err := s.swap(func() (*network.Policy, error) {
		p, err := compileMerged(s.file, api)
		if err == nil {
			s.api = api
		}
		return p, err
	})
	if err != nil {
		s.o.Log.WithError(err).Error("networks another instance stored do not compile with this instance's config file; " +
			"this instance keeps its own (the config files of a cluster's instances should be the same)")
		return
	}
	s.refresh(prev, p, "cluster")
}

// Reload reads the config file again and applies its networks, trunks
// and ACLs. An invalid file changes nothing.
func (s *Service) Reload() error {
	if s.o.Reload == nil {
		return controller.ErrNoConfigFile
	}
	file, err := s.o.Reload()
	if err == nil {
		var prev, p *network.Policy
		prev, p, err = s.swap(func() (*network.Policy, error) {
			p, err := compileMerged(file, s.api)
			if err == nil {
				s.file = file
			}
			return p, err
		})
		if err == nil {
			s.refresh(prev, p, "config file")
			return nil
		}
	}
	s.o.Log.WithError(err).Error("config reload rejected; the running configuration stays in force")
	if outOfDescriptors(err) { // loomd's trouble, not the file's: try again
		return fmt.Errorf("%w: reading the config file: %v", controller.ErrBusy, err)
	}
	return &controller.FailedPreconditionError{Reason: "config file rejected, the running configuration stays in force: " + err.Error()}
}

// swap runs next under the lock and puts the policy it returns in force.
func (s *Service) swap(next func() (*network.Policy, error)) (prev, p *network.Policy, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, err = next(); err != nil {
		return nil, nil, err
	}
	prev = s.o.Policy.Policy()
	s.o.Policy.Set(p)
	return prev, p, nil
}

// refresh recomputes every switch under the policy now in force (p, or a
// later one), outside the lock.
func (s *Service) refresh(prev, p *network.Policy, source string) {
	changed := s.rt.Refresh()
	s.o.Log.WithFields(logrus.Fields{"source": source, "networks": len(p.Networks()), "acl_rules": len(p.Rules()),
		"switches_changed": len(changed)}).Info("network policy applied")
	s.rt.Emit(controller.EventPolicy, source, fmt.Sprintf("applied: %d networks, %d ACL rules%s%s", len(p.Networks()), len(p.Rules()),
		changes(prev, p), switchChanges(changed)))
}

// switchChanges says what the switches were sent ("; flow-mods:
// kvm01/vswitch02 12, kvm02/vswitch02 4"; at most maxNamedSwitches named).
func switchChanges(changed []controller.SwitchChange) string {
	if len(changed) == 0 {
		return "; no flow changed"
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Name < changed[j].Name })
	var parts []string
	for i, c := range changed {
		if i == maxNamedSwitches {
			parts = append(parts, fmt.Sprintf("and %d more switches", len(changed)-maxNamedSwitches))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.FlowMods))
	}
	return "; flow-mods: " + strings.Join(parts, ", ")
}

// maxNamedSwitches bounds the switches a policy event names.
const maxNamedSwitches = 10

// changes names the networks and rules p adds and drops against prev
// (", networks +web -db, rules +ssh"; "" for none).
func changes(prev, p *network.Policy) string {
	var nets, rules [2][]string // added, dropped
	had := func(names []string, name string) bool { return slices.Contains(names, name) }
	var prevNets, nextNets, prevRules, nextRules []string
	if prev != nil {
		for _, n := range prev.Networks() {
			prevNets = append(prevNets, n.Name)
		}
		for _, r := range prev.Rules() {
			prevRules = append(prevRules, r.Name)
		}
	}
	for _, n := range p.Networks() {
		nextNets = append(nextNets, n.Name)
	}
	for _, r := range p.Rules() {
		nextRules = append(nextRules, r.Name)
	}
	diff := func(prev, next []string, into *[2][]string) {
		for _, n := range next {
			if !had(prev, n) {
				into[0] = append(into[0], "+"+n)
			}
		}
		for _, n := range prev {
			if !had(next, n) {
				into[1] = append(into[1], "-"+n)
			}
		}
	}
	diff(prevNets, nextNets, &nets)
	diff(prevRules, nextRules, &rules)
	out := ""
	if n := append(nets[0], nets[1]...); len(n) > 0 {
		out += ", networks " + strings.Join(n, " ")
	}
	if r := append(rules[0], rules[1]...); len(r) > 0 {
		out += ", rules " + strings.Join(r, " ")
	}
	return out
}

// clone copies the lists of s: a change adds or removes whole objects,
// never edits one in place, so the objects themselves are shared.
func clone(s network.Spec) network.Spec {
	return network.Spec{Networks: slices.Clone(s.Networks), Trunks: slices.Clone(s.Trunks), ACLs: slices.Clone(s.ACLs)}
}

// outOfDescriptors says whether err is the process or system running out
// of file descriptors.
func outOfDescriptors(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
