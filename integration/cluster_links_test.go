package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/integration/harness"
	"github.com/loomsdn/loom/internal/etcdtest"
	pb "github.com/loomsdn/loom/proto/loom/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// linksOf is the links an instance's API lists, as "dpid:port-dpid:port".
func linksOf(t *testing.T, ci *clusterInstance) []string {
	t.Helper()
	conn, ctx := ci.api(t)
	r, err := pb.NewTopologyServiceClient(conn).ListLinks(ctx, &pb.ListLinksRequest{})
	if err != nil {
		t.Fatalf("%s: ListLinks: %v", ci.name, err)
	}
	var out []string
	for _, l := range r.Links {
		out = append(out, fmt.Sprintf("%x:%d-%x:%d", l.GetA().GetDpid(), l.GetA().GetPort(), l.GetB().GetDpid(), l.GetB().GetPort()))
	}
	return out
}

// An LLDP link between two bridges whose masters are different
// instances: each master hears one direction only (a switch sends
// packet-ins to its master alone), so the link is found only because the
// instances sign probes with one key and share what they hear. Every
// instance lists it; it survives the death of one master; it goes
// everywhere when the cable does. Forgetting the bridge through one
// instance is refused while another reaches it, and then forgets it on
// every instance and in etcd. The instances reach etcd over TLS.
func TestClusterLinksAndForgettingAcrossMasters(t *testing.T) {
	t.Parallel()
	// etcd over TLS with client certificates, as a production cluster
	// runs it: loomd's cluster.tls is tested on the way.
	etcd, etcdTLS := etcdtest.StartTLS(t, 1)
	lab := harness.New(t)
	hv := lab.Hypervisor("hv1")
	// Two datapath ids the rendezvous hashing gives to different instances.
	names := []string{"loom1", "loom2"}
	uplinkID, vmID := uint64(0xa1), uint64(0)
	for id := uint64(0xc1); id < 0xcff; id++ {
		if cluster.Preferred(id, names) != cluster.Preferred(uplinkID, names) {
			vmID = id
			break
		}
	}
	uplink := hv.AddBridge("vswitch01", uplinkID)
	vmbr := hv.AddBridge("vswitch02", vmID)
	addPatchPair(t, hv)
	cfg := fmt.Sprintf("hypervisors:\n  - {name: hv1, ovsdb: \"unix:%s\"}\napps: {discovery: {interval: 300ms}}\n",
		filepath.Join(hv.RunDir, "db.sock"))
	cl := startClusterWith(t, lab, etcd, 2, cfg, fmt.Sprintf(", tls: {ca: %q, cert: %q, key: %q}", etcdTLS.CA, etcdTLS.Cert, etcdTLS.Key))
	var targets []string
	for _, ci := range cl {
		targets = append(targets, "unix:"+ci.sock)
	}
	for _, br := range []*harness.Bridge{uplink, vmbr} {
		br.SetControllers(targets...)
	}
	mu := waitMaster(t, uplink, cl, 20*time.Second, nil)
	mv := waitMaster(t, vmbr, cl, 20*time.Second, nil)
	waitFor(t, "different masters for the two bridges", 20*time.Second, func() bool {
		mu, _ = masterOf(t, uplink, cl)
		mv, _ = masterOf(t, vmbr, cl)
		return mu != nil && mv != nil && mu != mv
	})

	want := fmt.Sprintf("%x:%d-%x:%d", uplinkID, ofport(t, hv, "patch-01-02"), vmID, ofport(t, hv, "patch-02-01"))
	if vmID < uplinkID {
		want = fmt.Sprintf("%x:%d-%x:%d", vmID, ofport(t, hv, "patch-02-01"), uplinkID, ofport(t, hv, "patch-01-02"))
	}
	for _, ci := range cl {
		waitFor(t, ci.name+" lists the patch link "+want, 15*time.Second, func() bool {
			l := linksOf(t, ci)
			return len(l) == 1 && l[0] == want
		})
	}

	// The master of the VM bridge dies: the survivor masters both, hears
	// both directions itself, and keeps the one link.
	mv.proc.Kill9()
	waitMaster(t, vmbr, cl, 10*time.Second, mv)
	time.Sleep(2 * time.Second) // several probe windows
	if l := linksOf(t, mu); len(l) != 1 || l[0] != want {
		t.Fatalf("%s after %s died lists links %v, want [%s]", mu.name, mv.name, l, want)
	}

	// The cable goes: no probes either way, and the link goes.
	if _, err := hv.Vsctl("del-port", "vswitch02", "patch-02-01"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, mu.name+" drops the link", 10*time.Second, func() bool { return len(linksOf(t, mu)) == 0 })

	// The bridge goes for good: forgotten through one instance, it is
	// gone from every instance and from etcd, so no later master of that
	// datapath id restores its flows. Refused while an instance reaches it.
	mv.start(t)
	waitFor(t, mv.name+" sees the bridge", 15*time.Second, func() bool { return hasSwitch(t, mv, vmID) })
	conn, ctx := mu.api(t)
	cc := pb.NewControllerServiceClient(conn)
	if _, err := cc.ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: vmID}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("forgetting a connected bridge: %v, want FailedPrecondition", err)
	}
	// Connected to the other instance only: the one asked has no session,
	// and the cluster's store refuses, naming who still has one.
	vmbr.SetControllers("unix:" + mv.sock)
	waitFor(t, "forgetting refused because "+mv.name+" reaches the bridge", 15*time.Second, func() bool {
		_, err := cc.ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: vmID})
		if status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("forgetting a bridge another instance reaches: %v, want FailedPrecondition", err)
		}
		return strings.Contains(err.Error(), "reached by "+mv.name)
	})
	if !hasSwitch(t, mv, vmID) {
		t.Fatalf("%s forgot the bridge it is connected to", mv.name)
	}
	if _, err := hv.Vsctl("del-controller", "vswitch02"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bridge forgotten once no instance reaches it", 15*time.Second, func() bool {
		_, err := cc.ForgetSwitch(ctx, &pb.ForgetSwitchRequest{Dpid: vmID})
		if err != nil && status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("ForgetSwitch: %v", err)
		}
		return err == nil
	})
	for _, ci := range cl {
		waitFor(t, ci.name+" forgets the bridge", 10*time.Second, func() bool { return !hasSwitch(t, ci, vmID) })
	}
	resp, err := etcd.Client().Get(ctx, fmt.Sprintf("/loom/desired/%016x/", vmID), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("etcd still holds %v declarations of the forgotten bridge (%v)", resp.Count, err)
	}
}

// hasSwitch says whether an instance's API lists dpid.
func hasSwitch(t *testing.T, ci *clusterInstance, dpid uint64) bool {
	t.Helper()
	conn, ctx := ci.api(t)
	r, err := pb.NewTopologyServiceClient(conn).ListSwitches(ctx, &pb.ListSwitchesRequest{})
	if err != nil {
		t.Fatalf("%s: ListSwitches: %v", ci.name, err)
	}
	for _, sw := range r.Switches {
		if sw.Dpid == dpid {
			return true
		}
	}
	return false
}
