package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClusterSection(t *testing.T) {
	c, err := Parse([]byte("cluster:\n  etcd: [http://10.0.0.1:2379, http://10.0.0.2:2379]\n  instance: loom1\n  lease: 5s\n"), "loom.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Cluster.Enabled() || c.Cluster.Instance != "loom1" || time.Duration(c.Cluster.Lease) != 5*time.Second || len(c.Cluster.Etcd) != 2 {
		t.Fatalf("parsed %+v", c.Cluster)
	}
	if d, err := Parse(nil, "empty"); err != nil || d.Cluster.Enabled() {
		t.Fatalf("no section: a standalone loomd (%v, %+v)", err, d.Cluster)
	}
}

// Every wrong field is refused naming it.
func TestClusterSectionErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"cluster: {etcd: [http://a:2379]}", "cluster.instance"},
		{"cluster: {etcd: [http://a:2379], instance: 'a b'}", "cluster.instance"},
		{"cluster: {etcd: ['a:2379'], instance: x}", "cluster.etcd[0]"},
		{"cluster: {etcd: [https://a:2379], instance: x}", "cluster.tls"},
		{"cluster: {etcd: [http://a:2379], instance: x, lease: 1s}", "cluster.lease"},
		{"cluster: {etcd: [http://a:2379], instance: x, lease: 2500ms}", "cluster.lease"},
		{"cluster: {etcd: [http://a:2379], instance: x, prefix: loom}", "cluster.prefix"},
		{"cluster: {instance: x}", "cluster.etcd"},
	} {
		_, err := Parse([]byte(tc.yaml), "loom.yaml")
		var fe *FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Path, tc.field) {
			t.Errorf("%s: %v; want an error naming %s", tc.yaml, err, tc.field)
		}
	}
}
