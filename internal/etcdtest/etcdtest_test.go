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
