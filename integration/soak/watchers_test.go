package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/loomsdn/loom/proto/loom/v1"
)

// streamsPerConn stays under the API's limit of 128 streams per
// connection.
const streamsPerConn = 100

// watcher is one reading topology watcher: it resumes from the last
// revision it saw whenever its stream ends.
type watcher struct {
	last   atomic.Uint64
	events atomic.Int64
	live   atomic.Bool // a stream is open and has not failed
}

// watcherPool holds the API watchers of a run: topology watchers that read
// and resume, topology watchers that never read, and packet-in watchers of
// both kinds.
type watcherPool struct {
	addr string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	conns      []*grpc.ClientConn
	readers    []*watcher
	silentStop context.CancelFunc // ends the current never-reading streams
	reopenMu   sync.Mutex         // one reopenSilent at a time
	silentWG   sync.WaitGroup
	silentConn []*grpc.ClientConn
	nSilent    int
	nPkt       int
	nPktSilent int
	codes      map[string]int // how streams ended, by gRPC code

	opened, events, pktEvents, repeats, silentOpened atomic.Int64
	closeOnce                                        sync.Once
}

func dialAPI(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{MinConnectTimeout: 5 * time.Second,
			Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second}}))
}

func newWatcherPool(addr string, readers, silent, pkt, pktSilent int) (*watcherPool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &watcherPool{addr: addr, ctx: ctx, cancel: cancel, codes: map[string]int{},
		nSilent: silent, nPkt: pkt, nPktSilent: pktSilent}
	var conn *grpc.ClientConn
	for i := 0; i < readers+pkt; i++ {
		if i%streamsPerConn == 0 {
			c, err := dialAPI(addr)
			if err != nil {
				p.close()
				return nil, err
			}
			p.conns = append(p.conns, c)
			conn = c
		}
		if i < readers {
			w := &watcher{}
			p.readers = append(p.readers, w)
			p.wg.Add(1)
			go p.readTopology(conn, w)
		} else {
			p.wg.Add(1)
			go p.readPacketIns(conn)
		}
	}
	for i := 0; i < silent+pktSilent; i += streamsPerConn {
		c, err := dialAPI(addr)
		if err != nil {
			p.close()
			return nil, err
		}
		p.silentConn = append(p.silentConn, c)
	}
	p.openSilent()
	return p, nil
}

func (p *watcherPool) ended(err error) {
	code := status.Code(err).String()
	p.mu.Lock()
	p.codes[code]++
	p.mu.Unlock()
}

// pause waits a little before a stream is opened again (jittered, so a
// restart does not get every watcher back in the same millisecond).
func (p *watcherPool) pause() {
	select {
	case <-p.ctx.Done():
	case <-time.After(time.Duration(50+rand.IntN(250)) * time.Millisecond):
	}
}

func (p *watcherPool) readTopology(conn *grpc.ClientConn, w *watcher) {
	defer p.wg.Done()
	tc := pb.NewTopologyServiceClient(conn)
	for p.ctx.Err() == nil {
		from := w.last.Load()
		s, err := tc.WatchTopology(p.ctx, &pb.WatchTopologyRequest{FromRevision: from}, grpc.WaitForReady(true))
		if err != nil {
			p.ended(err)
			p.pause()
			continue
		}
		p.opened.Add(1)
		w.live.Store(true)
	recv:
		for {
			ev, err := s.Recv()
			if err != nil {
				w.live.Store(false)
				p.ended(err)
				switch status.Code(err) {
				case codes.InvalidArgument, codes.OutOfRange:
					// Ahead of a restarted loomd's revision, or older than
					// its ring: start again from now.
					w.last.Store(0)
				}
				break recv
			}
			if from > 0 && ev.Revision <= from || ev.Revision < w.last.Load() {
				p.repeats.Add(1) // a repeat after a resume, or out of order
			}
			from = 0
			w.last.Store(ev.Revision)
			w.events.Add(1)
			p.events.Add(1)
		}
		p.pause()
	}
}

func (p *watcherPool) readPacketIns(conn *grpc.ClientConn) {
	defer p.wg.Done()
	pc := pb.NewPacketServiceClient(conn)
	for p.ctx.Err() == nil {
		// Every switch's packet-ins: the flooded OVS bridge sheds its
		// flood in the switch once its MAC table is full, loombench's
		// emulated switches never do.
		s, err := pc.WatchPacketIns(p.ctx, &pb.WatchPacketInsRequest{}, grpc.WaitForReady(true))
		if err != nil {
			p.ended(err)
			p.pause()
			continue
		}
		p.opened.Add(1)
		for {
			if _, err := s.Recv(); err != nil {
				p.ended(err)
				break
			}
			p.pktEvents.Add(1)
		}
		p.pause()
	}
}

// openSilent opens the watchers that never read: their streams stay open
// and never take a message, so loomd's side of each fills up and blocks.
// After a loomd restart their old streams are dead; reopenSilent replaces
// them.
func (p *watcherPool) openSilent() {
	ctx, cancel := context.WithCancel(p.ctx)
	p.mu.Lock()
	p.silentStop = cancel
	p.mu.Unlock()
	for i := 0; i < p.nSilent+p.nPktSilent; i++ {
		conn := p.silentConn[i/streamsPerConn]
		p.silentWG.Add(1)
		go func() {
			defer p.silentWG.Done()
			var err error
			if i < p.nSilent {
				_, err = pb.NewTopologyServiceClient(conn).WatchTopology(ctx, &pb.WatchTopologyRequest{}, grpc.WaitForReady(true))
			} else {
				_, err = pb.NewPacketServiceClient(conn).WatchPacketIns(ctx, &pb.WatchPacketInsRequest{}, grpc.WaitForReady(true))
			}
			if err == nil {
				p.silentOpened.Add(1)
			}
			<-ctx.Done() // never Recv
		}()
	}
}

func (p *watcherPool) reopenSilent() {
	p.reopenMu.Lock()
	defer p.reopenMu.Unlock()
	p.mu.Lock()
	stop := p.silentStop
	p.mu.Unlock()
	stop()
	p.silentWG.Wait()
	if p.ctx.Err() == nil {
		p.openSilent()
	}
}

func (p *watcherPool) close() {
	p.closeOnce.Do(func() {
		p.cancel()
		p.wg.Wait()
		p.reopenMu.Lock() // a reopen in flight finishes first
		p.silentWG.Wait()
		p.reopenMu.Unlock()
		for _, c := range append(p.conns, p.silentConn...) {
			c.Close()
		}
	})
}

func (p *watcherPool) summary() string {
	p.mu.Lock()
	var cs []string
	for c, n := range p.codes {
		cs = append(cs, fmt.Sprintf("%s=%d", c, n))
	}
	p.mu.Unlock()
	sort.Strings(cs)
	return fmt.Sprintf("%d topology readers + %d never-read, %d packet-in readers + %d never-read; streams opened %d (never-read %d), "+
		"topology events %d, packet-ins %d, repeats/out-of-order %d; ends: %s",
		len(p.readers), p.nSilent, p.nPkt, p.nPktSilent, p.opened.Load(), p.silentOpened.Load(), p.events.Load(), p.pktEvents.Load(),
		p.repeats.Load(), strings.Join(cs, " "))
}
