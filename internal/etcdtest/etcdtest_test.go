package etcdtest

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A three-member cluster keeps answering with one member killed, and a
// cut proxy takes its client off etcd until it is mended.
func TestClusterSurvivesOneMemberAndProxyCuts(t *testing.T) {
	c := Start(t, 3)
	cli := c.Client()
	c.Member(0).Kill9()
	// If the killed member led, the others elect a new leader first: the
	// writes meanwhile may time out (etcd's own "possibly due to previous
	// leader failure"); then they succeed.
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatalf("writes with one member of three down: %v\n%s", err, c.Logs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("write with one member of three down: %v", err)
	}
	if err := c.Member(0).Restart(); err != nil {
		t.Fatal(err)
	}

	p := NewProxy(t, c.Endpoints()[1])
	pc, err := clientv3.New(clientv3.Config{Endpoints: []string{p.URL}, DialTimeout: 2 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.Get(ctx, "k"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	short, cancelShort := context.WithTimeout(context.Background(), time.Second)
	defer cancelShort()
	if _, err := pc.Get(short, "k"); err == nil {
		t.Fatal("a cut proxy let a request through")
	}
	p.Mend()
	if _, err := pc.Get(ctx, "k"); err != nil {
		t.Fatalf("through the mended proxy: %v", err)
	}
}

// A TLS cluster answers a client with the cluster's certificate, through
// a proxy too, and refuses one without.
func TestTLSClusterNeedsTheClientCertificate(t *testing.T) {
	c, _ := StartTLS(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Client().Put(ctx, "k", "v"); err != nil {
		t.Fatalf("with the client certificate: %v", err)
	}
	p := NewProxy(t, c.Endpoints()[0])
	if p.URL[:8] != "https://" {
		t.Fatalf("proxy URL %s for a TLS member", p.URL)
	}
	plain, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, cancel2 := context.WithTimeout(ctx, 2*time.Second)
	defer cancel2()
	if _, err := plain.Get(short, "k"); err == nil {
		t.Fatal("a client without TLS read from a --client-cert-auth cluster")
	}
}
