package ovsdb

import (
	"testing"

	libovsdb "github.com/ovn-org/libovsdb/ovsdb"
)

// A refused transaction's error carries what the server said, at most
// three reasons.
func TestServerSaysWhyATransactionFailed(t *testing.T) {
	res := []libovsdb.OperationResult{{}, {Error: "constraint violation", Details: "set contains duplicate value"}}
	if got := serverSays(res); got != " (the server says: constraint violation: set contains duplicate value)" {
		t.Fatalf("got %q", got)
	}
	if got := serverSays([]libovsdb.OperationResult{{}}); got != "" {
		t.Fatalf("no error: %q", got)
	}
}
