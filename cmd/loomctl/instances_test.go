package main

import (
	"testing"
	"time"

	"github.com/sirupsen/logrus/hooks/test"

	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/cluster/clustertest"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/topology"
)

// clusterServer runs the API of loom-b, one of three instances, over
// three switches (one mastered by none), with loomctl's clock fixed.
func clusterServer(t *testing.T) string {
	t.Helper()
	fixed := time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return fixed }
	t.Cleanup(func() { now = time.Now })
	log, _ := test.NewNullLogger()
	top := topology.New()
	top.SwitchConnected(0xa1, "192.0.2.10:40001", nil)
	top.SwitchConnected(0xb1, "192.0.2.20:40001", nil)
	top.SwitchConnected(0xc1, "192.0.2.30:40001", nil)
	c := &clustertest.Static{Self: "loom-b", Masters: map[uint64]string{0xa1: "loom-a", 0xb1: "loom-b"}, List: []cluster.InstanceState{
		{Instance: cluster.Instance{Name: "loom-a", OpenFlow: []string{"tcp:192.0.2.1:6653"}, API: "192.0.2.1:9652", Version: "v1.4.0",
			Started: fixed.Add(-(2*24*time.Hour + 4*time.Hour + 10*time.Minute)), Masters: 1}, State: "live"},
		{Instance: cluster.Instance{Name: "loom-b", OpenFlow: []string{"tcp:192.0.2.2:6653", "ssl:192.0.2.2:6654"}, API: "192.0.2.2:9652",
			Version: "v1.4.0", Started: fixed.Add(-(3*time.Hour + 25*time.Minute + 10*time.Second)), Masters: 1}, State: "live", Self: true},
		{Instance: cluster.Instance{Name: "loom-c", OpenFlow: []string{"tcp:192.0.2.3:6653"}, API: "192.0.2.3:9652", Version: "v1.4.1",
			Started: fixed.Add(-45 * time.Second)}, State: "live"},
	}}
	ctl, err := controller.New(controller.Config{Log: log, Topology: top, Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ctl.Close)
	return serveAPI(t, ctl, nil)
}

// In a cluster, get switches adds MASTER (standalone, switches.table has
// none); get instances marks the instance answering with a *.
func TestClusterOutput(t *testing.T) {
	addr := clusterServer(t)
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"switches-cluster.table", []string{"get", "switches"}},
		{"instances.table", []string{"get", "instances"}},
		{"instances.json", []string{"get", "instances", "-o", "json"}},
		{"instances.yaml", []string{"get", "instances", "-o", "yaml"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := run(t, append(c.args, "--server", addr)...)
			if err != nil {
				t.Fatal(oneLine(err))
			}
			golden(t, c.golden, got)
		})
	}
}

// A standalone loomd's answer to get instances says, in one line, why
// there are none.
func TestGetInstancesStandalone(t *testing.T) {
	addr := server(t)
	_, err := run(t, "get", "instances", "--server", addr)
	want := "FailedPrecondition: not a cluster: loomd runs without --etcd (or cluster.etcd in its config file)"
	if err == nil || explain(err, addr) != want {
		t.Fatalf("get instances on a standalone loomd: %v, want %q", err, want)
	}
}

func TestAge(t *testing.T) {
	at := time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return at }
	t.Cleanup(func() { now = time.Now })
	for d, want := range map[time.Duration]string{
		-time.Second:                   "0s", // a clock behind the server's
		45 * time.Second:               "45s",
		90 * time.Second:               "90s",
		7*time.Minute + 30*time.Second: "7m30s",
		42*time.Minute + 5*time.Second: "42m",
		3*time.Hour + 25*time.Minute:   "3h25m",
		50*time.Hour + 10*time.Minute:  "2d2h",
		400*24*time.Hour + 3*time.Hour: "400d3h",
	} {
		if got := age(at.Add(-d).UnixNano()); got != want {
			t.Errorf("age of %v: %q, want %q", d, got, want)
		}
	}
	if got := age(0); got != "-" {
		t.Errorf("age of an unset time: %q, want -", got)
	}
}
