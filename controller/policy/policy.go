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
	"sync"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
)

// Runtime is what the service needs of the controller.
type Runtime interface {
	// Refresh recomputes every switch (none named) and waits, bounded.
	Refresh(dpids ...uint64)
	// OnEachSwitch runs fn on every ready switch's goroutine.
	OnEachSwitch(fn func(controller.Declarations))
	// Apps are the apps in the order they run.
	Apps() []apps.App
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
	p, err := s.swap(func() (*network.Policy, error) {
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
	s.refresh(p, "api")
	return nil
}

// Reload reads the config file again and applies its networks, trunks
// and ACLs. An invalid file changes nothing.
func (s *Service) Reload() error {
	if s.o.Reload == nil {
		return controller.ErrNoConfigFile
	}
	file, err := s.o.Reload()
	if err == nil {
		var p *network.Policy
		p, err = s.swap(func() (*network.Policy, error) {
			p, err := compileMerged(file, s.api)
			if err == nil {
				s.file = file
			}
			return p, err
		})
		if err == nil {
			s.refresh(p, "config file")
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
func (s *Service) swap(next func() (*network.Policy, error)) (*network.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := next()
	if err != nil {
		return nil, err
	}
	s.o.Policy.Set(p)
	return p, nil
}

// refresh recomputes every switch under the policy now in force (p, or a
// later one), outside the lock.
func (s *Service) refresh(p *network.Policy, source string) {
	s.rt.Refresh()
	s.o.Log.WithFields(logrus.Fields{"source": source, "networks": len(p.Networks()), "acl_rules": len(p.Rules())}).Info("network policy applied")
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
