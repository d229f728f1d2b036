package policy

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
)

// fakeRuntime counts refreshes and has no switches.
type fakeRuntime struct {
	mu        sync.Mutex
	refreshes int
	during    func() // runs inside Refresh
}

func (r *fakeRuntime) Refresh(...uint64) {
	r.mu.Lock()
	r.refreshes++
	during := r.during
	r.mu.Unlock()
	if during != nil {
		during()
	}
}
func (r *fakeRuntime) OnEachSwitch(func(controller.Declarations)) {}
func (r *fakeRuntime) Apps() []apps.App                           { return nil }

// memStore keeps the API's declarations, or refuses with refuse.
type memStore struct {
	data   []byte
	refuse error
}

func (m *memStore) SaveNetworks(data []byte) error {
	if m.refuse != nil {
		return m.refuse
	}
	m.data = append([]byte(nil), data...)
	return nil
}
func (m *memStore) LoadNetworks() ([]byte, error) { return m.data, nil }

func newService(t *testing.T, st Store) (*Service, *fakeRuntime) {
	t.Helper()
	rt := &fakeRuntime{}
	s := New(rt, Options{Policy: network.NewHolder(nil), Store: st})
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	return s, rt
}

// Network, trunk and ACL writes are stored before they apply; a refusal
// is a *StoreError (Unavailable to clients) and changes nothing.
func TestRefusedNetworkWriteChangesNothing(t *testing.T) {
	st := &memStore{}
	s, rt := newService(t, st)
	if err := Add(s, Networks, network.Network{Name: "web", VLAN: 10}); err != nil {
		t.Fatal(err)
	}
	st.refuse = syscall.ENOSPC
	err := Add(s, Networks, network.Network{Name: "db", VLAN: 20})
	var se *controller.StoreError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Add on a full disk: %v (%T), want a *StoreError wrapping ENOSPC", err, err)
	}
	if _, api := s.Specs(); len(api.Networks) != 1 || api.Networks[0].Name != "web" {
		t.Fatalf("a refused write changed the declarations: %+v", api.Networks)
	}
	if strings.Contains(string(st.data), `"db"`) {
		t.Fatalf("the store holds %s", st.data)
	}
	if rt.refreshes != 1 {
		t.Fatalf("%d refreshes, want 1 (the refused change refreshes nothing)", rt.refreshes)
	}
}

// Every kind goes through the same add and delete: a name taken by the
// file or the API is refused, an unknown one is not found, a file's one
// cannot be deleted, and a deletion others depend on is refused.
func TestAddAndDeleteForEveryKind(t *testing.T) {
	rt := &fakeRuntime{}
	file := network.Spec{Networks: []network.Network{{Name: "file-net", VLAN: 5}}}
	s := New(rt, Options{Policy: network.NewHolder(nil), File: file})
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	var exists *controller.AlreadyExistsError
	if err := Add(s, Networks, network.Network{Name: "file-net", VLAN: 6}); !errors.As(err, &exists) || exists.Source != controller.SourceFile {
		t.Fatalf("adding the file's name: %v", err)
	}
	if err := Add(s, Networks, network.Network{Name: "web", VLAN: 10}); err != nil {
		t.Fatal(err)
	}
	if err := Add(s, Networks, network.Network{Name: "web", VLAN: 11}); !errors.As(err, &exists) || exists.Source != controller.SourceAPI {
		t.Fatalf("adding the API's name twice: %v", err)
	}
	if err := Add(s, Trunks, network.Trunk{Port: "uplink", VLANs: []int{10}}); err != nil {
		t.Fatal(err)
	}
	var inv *controller.InvalidArgumentError
	if err := Add(s, Trunks, network.Trunk{Port: "bad", VLANs: []int{99}}); !errors.As(err, &inv) {
		t.Fatalf("a trunk of an undeclared VLAN: %v (%T), want an InvalidArgumentError naming the field", err, err)
	}
	var pre *controller.FailedPreconditionError
	if err := Delete(s, Networks, "web"); !errors.As(err, &pre) || !strings.Contains(err.Error(), "would leave") {
		t.Fatalf("deleting a network a trunk carries: %v", err)
	}
	if err := Delete(s, Networks, "file-net"); !errors.As(err, &pre) || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("deleting the file's network: %v", err)
	}
	var nf *controller.NotFoundError
	if err := Delete(s, ACLs, "nosuch"); !errors.As(err, &nf) || nf.Kind != "ACL rule" {
		t.Fatalf("deleting an unknown rule: %v", err)
	}
	if err := Delete(s, Trunks, "uplink"); err != nil {
		t.Fatal(err)
	}
	if err := Delete(s, Networks, "web"); err != nil {
		t.Fatal(err)
	}
	if _, api := s.Specs(); len(api.Networks)+len(api.Trunks)+len(api.ACLs) != 0 {
		t.Fatalf("left behind: %+v", api)
	}
}

// The lock covers the change, not the refresh after it: a second change
// can be made while the first one's switches are still refreshing.
func TestNoLockHeldWhileSwitchesRefresh(t *testing.T) {
	s, rt := newService(t, nil)
	second := make(chan error, 1)
	rt.during = func() {
		rt.mu.Lock()
		rt.during = nil // only the first change's refresh waits on the second
		rt.mu.Unlock()
		go func() { second <- Add(s, Networks, network.Network{Name: "b", VLAN: 20}) }()
		if err := <-second; err != nil {
			t.Error(err)
		}
	}
	if err := Add(s, Networks, network.Network{Name: "a", VLAN: 10}); err != nil {
		t.Fatal(err)
	}
	if _, api := s.Specs(); len(api.Networks) != 2 {
		t.Fatalf("declarations %+v, want both", api.Networks)
	}
}
