package policy

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
)

// fakeRuntime counts refreshes and has no switches.
type fakeRuntime struct {
	mu        sync.Mutex
	events    []string
	refreshes int
	during    func() // runs inside Refresh
}

func (r *fakeRuntime) Refresh(...uint64) []controller.SwitchChange {
	r.mu.Lock()
	r.refreshes++
	during := r.during
	r.mu.Unlock()
	if during != nil {
		during()
	}
	return nil
}
func (r *fakeRuntime) OnEachSwitch(func(controller.Declarations)) {}
func (r *fakeRuntime) Emit(kind, subject, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, kind+" "+subject+": "+message)
}
func (r *fakeRuntime) Apps() []apps.App { return nil }

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
	if len(rt.events) != 1 || rt.events[0] != "policy api: applied: 1 networks, 0 ACL rules, networks +web; no flow changed" {
		t.Fatalf("events %q, want one naming the network added (and none for the refused change)", rt.events)
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

// An add checks the name against the file in the same step as it stores
// the item: a reload that declares the name meanwhile makes the add an
// AlreadyExists (it was an InvalidArgument naming the merged list), and a
// reload declaring a trunk the API has is refused as for networks and
// ACLs (it was accepted: the port was the file's and the API's trunk).
func TestAddRacingReloadNeverDeclaresANameTwice(t *testing.T) {
	with := network.Spec{Networks: []network.Network{{Name: "n", VLAN: 10}}, Trunks: []network.Trunk{{Port: "up", VLANs: []int{10}}}}
	without := network.Spec{Networks: []network.Network{{Name: "n", VLAN: 10}}}
	var mu sync.Mutex
	next := false
	rt := &fakeRuntime{}
	log, _ := logtest.NewNullLogger()
	s := New(rt, Options{Policy: network.NewHolder(nil), File: without, Log: logrus.NewEntry(log), Reload: func() (network.Spec, error) {
		mu.Lock()
		defer mu.Unlock()
		next = !next
		if next {
			return with, nil
		}
		return without, nil
	}})
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	declares := func(sp network.Spec) bool {
		return slices.ContainsFunc(sp.Trunks, func(tr network.Trunk) bool { return tr.Port == "up" })
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Reload() // refused while the API declares the trunk too
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var exists *controller.AlreadyExistsError
			var pre *controller.FailedPreconditionError
			var nf *controller.NotFoundError
			if err := Add(s, Trunks, network.Trunk{Port: "up", VLANs: []int{10}}); err != nil && !errors.As(err, &exists) {
				t.Errorf("add: %v (%T)", err, err)
			}
			if err := Delete(s, Trunks, "up"); err != nil && !errors.As(err, &pre) && !errors.As(err, &nf) {
				t.Errorf("delete: %v (%T)", err, err)
			}
		}
	}()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && !t.Failed() {
		if file, api := s.Specs(); declares(file) && declares(api) {
			t.Errorf("trunk up is declared by the file and the API")
			break
		}
	}
	close(stop)
	wg.Wait()
}
