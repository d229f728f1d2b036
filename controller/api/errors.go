package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

// codeTable maps the controller's errors to gRPC codes: the one place
// that decides what a client sees (the etcd shape).
var codeTable = []struct {
	err  error
	code codes.Code
}{
	{controller.ErrNoTopology, codes.Unavailable},
	{controller.ErrWatcherTooSlow, codes.ResourceExhausted},
	{controller.ErrShuttingDown, codes.Unavailable},
	{controller.ErrBusy, codes.Unavailable},
	{controller.ErrTooManyWatchers, codes.ResourceExhausted},
	{controller.ErrNoNetworks, codes.FailedPrecondition},
	{controller.ErrNoConfigFile, codes.FailedPrecondition},
	{topology.ErrRevisionGone, codes.OutOfRange},
	{openflow.ErrClosed, codes.Unavailable},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
	{context.Canceled, codes.Canceled},
}

// toStatus turns an error from the Go API into a gRPC status.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status (the stream's own send failed)
	}
	var (
		inv    *controller.InvalidArgumentError
		nf     *controller.NotFoundError
		exists *controller.AlreadyExistsError
		pre    *controller.FailedPreconditionError
		stored *controller.StoreError
	)
	switch {
	case errors.As(err, &inv):
		return status.Error(codes.InvalidArgument, inv.Error())
	case errors.As(err, &nf):
		return status.Error(codes.NotFound, nf.Error())
	case errors.As(err, &exists):
		return status.Error(codes.AlreadyExists, exists.Error())
	case errors.As(err, &pre):
		return status.Error(codes.FailedPrecondition, pre.Error())
	case errors.As(err, &stored):
		// Retryable: nothing was applied, and the same call succeeds once
		// the store takes writes again.
		return status.Error(codes.Unavailable, stored.Error())
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}
