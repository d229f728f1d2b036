package policy

import (
	"errors"
	"fmt"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/network"
)

// Kind is one kind of object the policy declares by name: where its list
// sits in a spec and what names an item. One generic add and delete
// serve every kind.
type Kind[T any] struct {
	Name string // in errors: "network", "trunk", "ACL rule"
	List func(*network.Spec) *[]T
	Key  func(T) string
}

// The kinds.
var (
	Networks = Kind[network.Network]{Name: "network",
		List: func(s *network.Spec) *[]network.Network { return &s.Networks },
		Key:  func(n network.Network) string { return n.Name }}
	// Trunks are named by their port (a name or a glob).
	Trunks = Kind[network.Trunk]{Name: "trunk",
		List: func(s *network.Spec) *[]network.Trunk { return &s.Trunks },
		Key:  func(t network.Trunk) string { return t.Port }}
	// ACLs apply in order: an added rule comes after every rule declared.
	ACLs = Kind[network.Rule]{Name: "ACL rule",
		List: func(s *network.Spec) *[]network.Rule { return &s.ACLs },
		Key:  func(r network.Rule) string { return r.Name }}
)

// Add declares item through the API, after every item of its kind. A
// name the file or the API already declares is an *AlreadyExistsError;
// an item the policy refuses, an *InvalidArgumentError naming the field.
func Add[T any](s *Service, k Kind[T], item T) error {
	name := k.Key(item)
	// fn runs under the service's lock: the file it checks is the one the
	// item is stored against (a reload cannot slip in between).
	err := s.Update(func(api *network.Spec) error {
		for _, f := range *k.List(&s.file) {
			if k.Key(f) == name {
				return &controller.AlreadyExistsError{Kind: k.Name, Name: name, Source: controller.SourceFile}
			}
		}
		list := k.List(api)
		for _, x := range *list {
			if k.Key(x) == name {
				return &controller.AlreadyExistsError{Kind: k.Name, Name: name, Source: controller.SourceAPI}
			}
		}
		*list = append(*list, item)
		return nil
	})
	var fe *network.FieldError
	if errors.As(err, &fe) {
		return &controller.InvalidArgumentError{Field: fe.Path, Reason: fe.Err.Error()}
	}
	return err
}

// Delete withdraws the API's item of that name. One only the file
// declares, or one something else still refers to, is a
// *FailedPreconditionError; an unknown name, a *NotFoundError.
func Delete[T any](s *Service, k Kind[T], name string) error {
	err := s.Update(func(api *network.Spec) error { // under the lock, as Add's
		list := k.List(api)
		for i, x := range *list {
			if k.Key(x) == name {
				*list = append((*list)[:i:i], (*list)[i+1:]...)
				return nil
			}
		}
		for _, f := range *k.List(&s.file) {
			if k.Key(f) == name {
				return &controller.FailedPreconditionError{Reason: fmt.Sprintf("%s %q is declared in the config file: change the file and reload", k.Name, name)}
			}
		}
		return &controller.NotFoundError{Kind: k.Name, Name: name}
	})
	var fe *network.FieldError
	if errors.As(err, &fe) { // what the deletion leaves refers to it
		return &controller.FailedPreconditionError{Reason: fmt.Sprintf("deleting %s %q would leave %s", k.Name, name, fe.Error())}
	}
	return err
}
