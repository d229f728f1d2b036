package controller

import (
	"errors"
	"fmt"
)

// The domain errors of the runtime and the services over it (policy,
// northbound). They say what went wrong in Loom's terms; controller/api
// alone turns them into gRPC codes, in one table.

// InvalidArgumentError names the request field that is wrong.
type InvalidArgumentError struct {
	Field  string
	Reason string
}

func (e *InvalidArgumentError) Error() string { return e.Field + ": " + e.Reason }

// NotFoundError means the named object is not declared (or, with Why,
// not found for that reason).
type NotFoundError struct {
	Kind, Name string
	Why        string // "is on no port Loom knows"; empty: "is not declared"
}

func (e *NotFoundError) Error() string {
	why := e.Why
	if why == "" {
		why = "is not declared"
	}
	return fmt.Sprintf("%s %q %s", e.Kind, e.Name, why)
}

// Where a declaration comes from.
const (
	SourceFile = "file"
	SourceAPI  = "api"
)

// AlreadyExistsError means the name is taken, by the config file or by
// the API.
type AlreadyExistsError struct {
	Kind, Name, Source string
}

func (e *AlreadyExistsError) Error() string {
	where := "through the API"
	if e.Source == SourceFile {
		where = "in the config file"
	}
	return fmt.Sprintf("%s %q is already declared %s", e.Kind, e.Name, where)
}

// FailedPreconditionError means the request is well formed but the
// controller's state refuses it (a name the config file declares, a
// network still in use, no config file to reload).
type FailedPreconditionError struct {
	Reason string
}

func (e *FailedPreconditionError) Error() string { return e.Reason }

// Sentinels.
var (
	// ErrNoTopology means the controller runs without a topology model.
	ErrNoTopology = errors.New("this controller keeps no topology")
	// ErrShuttingDown ends streams when loomd stops; clients reconnect to
	// it (or another instance) later.
	ErrShuttingDown = errors.New("loomd is shutting down")
	// ErrWatcherTooSlow ends a watch whose client fell too far behind; it
	// resumes from the last revision it received.
	ErrWatcherTooSlow = errors.New("watcher fell behind; resume from the last revision received")
	// ErrTooManyWatchers refuses a watch beyond the bounds (admitWatcher).
	ErrTooManyWatchers = fmt.Errorf("too many open watch streams (at most %d, %d of them for packet-ins); close some",
		maxWatchers, maxPacketWatchers)
	// ErrNoNetworks means the controller runs without a network policy.
	ErrNoNetworks = errors.New("this controller runs no network policy")
	// ErrNoConfigFile means a reload was asked of a loomd started without one.
	ErrNoConfigFile = errors.New("loomd runs without a config file: nothing to reload")
	// ErrBusy means loomd could not serve the request for want of a
	// resource of its own (file descriptors); the request itself is fine:
	// retry.
	ErrBusy = errors.New("loomd is out of resources, try again")
)
