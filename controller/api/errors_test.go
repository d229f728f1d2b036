package api

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loomsdn/loom/controller"
)

// A write the store refused reaches the client as Unavailable (retry
// later; nothing changed), with the message naming what failed and why.
func TestStoreErrorIsUnavailable(t *testing.T) {
	err := toStatus(&controller.StoreError{What: "external/c/k on 0x00000000000000d1", Err: fmt.Errorf("write loom.db: %w", syscall.ENOSPC)})
	st, _ := status.FromError(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "external/c/k") || !strings.Contains(st.Message(), "no space left on device") {
		t.Fatalf("got %v %q", st.Code(), st.Message())
	}
}
