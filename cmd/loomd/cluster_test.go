package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --instance without --etcd, or a bad --etcd, is refused at once, naming
// the flags and the field, before anything is opened.
func TestClusterFlagsAreChecked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "loom.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--instance", "loom1"}, "cluster.etcd"},
		{[]string{"--etcd", "127.0.0.1:2379", "--instance", "loom1"}, "cluster.etcd[0]"},
		{[]string{"--etcd", "http://127.0.0.1:2379"}, "cluster.instance"},
	} {
		err := run(append(tc.args, "--db", db, "--grpc-listen", "", "--metrics-listen", "", "--openflow-listen", "unix:"+filepath.Join(t.TempDir(), "of.sock")))
		if err == nil || !strings.Contains(err.Error(), "--etcd/--instance") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want a refusal naming --etcd/--instance and %s", tc.args, err, tc.want)
		}
	}
}
