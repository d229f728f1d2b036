// Command soakhelper is the soak suite's traffic inside VM namespaces:
//
//	soakhelper ping  -dst IP [-interval 10ms] [-timeout 3s]
//	soakhelper flood -iface eth1 [-rate 50000] [-dst MAC] [-seed N]
//
// ping sends ICMP echo requests on a fixed schedule (not paced by replies)
// and prints, in key=value lines, every request that got no reply within
// the timeout ("lost seq=N sent=UNIXNANO"), every reply that came later
// ("late ..."), one "stat" line a second and a "final" line when it is told
// to stop (SIGINT, SIGTERM). flood sends Ethernet frames with random
// (locally administered, unicast) source MACs at a fixed rate from a raw
// socket, printing one "flood" line a second and a "final" line on stop.
// Both run until stopped. Everything stays inside the namespace they run
// in.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soakhelper ping|flood [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "ping":
		err = ping(ctx, os.Args[2:])
	case "flood":
		err = flood(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soakhelper:", err)
		os.Exit(1)
	}
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

type outstanding struct {
	seq  uint64
	sent time.Time
}

func ping(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ping", flag.ExitOnError)
	dst := fs.String("dst", "", "IPv4 address to ping")
	interval := fs.Duration("interval", 10*time.Millisecond, "time between requests")
	timeout := fs.Duration("timeout", 3*time.Second, "a request without a reply this long is lost")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits
	ip := net.ParseIP(*dst).To4()
	if ip == nil {
		return fmt.Errorf("-dst %q is not an IPv4 address", *dst)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	sa := &syscall.SockaddrInet4{}
	copy(sa.Addr[:], ip)
	id := uint16(os.Getpid())

	var mu sync.Mutex
	pending := map[uint16]outstanding{} // by 16-bit wire sequence
	lostAt := map[uint64]time.Time{}    // lost ones, kept a while to see late replies
	var sent, recv, lost, late, sendErrs uint64
	var maxRTT time.Duration

	stopRecv := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // receiver
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			select {
			case <-stopRecv:
				return
			default:
			}
			n, from, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil || n < 28 {
				continue
			}
			if f, ok := from.(*syscall.SockaddrInet4); !ok || f.Addr != sa.Addr {
				continue
			}
			ihl := int(buf[0]&0x0f) * 4
			if n < ihl+8 || buf[ihl] != 0 || binary.BigEndian.Uint16(buf[ihl+4:]) != id {
				continue // not an echo reply to us
			}
			seq16 := binary.BigEndian.Uint16(buf[ihl+6:])
			now := time.Now()
			mu.Lock()
			if o, ok := pending[seq16]; ok {
				delete(pending, seq16)
				recv++
				if rtt := now.Sub(o.sent); rtt > maxRTT {
					maxRTT = rtt
				}
			} else if n >= ihl+16 {
				// The payload carries the full sequence number.
				seq := binary.BigEndian.Uint64(buf[ihl+8:])
				if t, ok := lostAt[seq]; ok {
					delete(lostAt, seq)
					late++
					fmt.Printf("late seq=%d sent=%d rtt=%v\n", seq, t.UnixNano(), now.Sub(t).Round(time.Millisecond))
				}
			}
			mu.Unlock()
		}
	}()

	// expire marks requests older than the timeout lost (all of them, at
	// the end).
	expire := func(now time.Time, all bool) {
		mu.Lock()
		defer mu.Unlock()
		for k, o := range pending {
			if all || now.Sub(o.sent) > *timeout {
				delete(pending, k)
				lost++
				lostAt[o.seq] = o.sent
				fmt.Printf("lost seq=%d sent=%d\n", o.seq, o.sent.UnixNano())
			}
		}
		for seq, t := range lostAt {
			if now.Sub(t) > time.Minute {
				delete(lostAt, seq)
			}
		}
	}
	stat := func(kind string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("%s t=%d sent=%d recv=%d lost=%d late=%d send_errors=%d max_rtt=%v\n", kind, time.Now().UnixNano(),
			sent, recv, lost, late, sendErrs, maxRTT.Round(time.Microsecond))
	}

	pkt := make([]byte, 8+8+40)
	start := time.Now()
	lastStat, lastExpire := start, start
	for seq := uint64(0); ; seq++ {
		next := start.Add(time.Duration(seq) * *interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		pkt[0], pkt[1] = 8, 0 // echo request
		binary.BigEndian.PutUint16(pkt[2:], 0)
		binary.BigEndian.PutUint16(pkt[4:], id)
		binary.BigEndian.PutUint16(pkt[6:], uint16(seq))
		binary.BigEndian.PutUint64(pkt[8:], seq)
		binary.BigEndian.PutUint16(pkt[2:], checksum(pkt))
		now := time.Now()
		mu.Lock()
		if old, ok := pending[uint16(seq)]; ok { // 65536 requests ago: long lost
			lost++
			fmt.Printf("lost seq=%d sent=%d\n", old.seq, old.sent.UnixNano())
		}
		pending[uint16(seq)] = outstanding{seq: seq, sent: now}
		sent++
		mu.Unlock()
		if err := syscall.Sendto(fd, pkt, 0, sa); err != nil {
			mu.Lock()
			sendErrs++
			mu.Unlock()
		}
		if now.Sub(lastExpire) >= 100*time.Millisecond {
			expire(now, false)
			lastExpire = now
		}
		if now.Sub(lastStat) >= time.Second {
			stat("stat")
			lastStat = now
		}
	}
	// Give the last requests their full timeout, then count what is left.
	deadline := time.Now().Add(*timeout)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(pending)
		mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	expire(time.Now(), true)
	close(stopRecv)
	wg.Wait()
	stat("final")
	return nil
}

func flood(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	iface := fs.String("iface", "eth1", "interface to send on")
	rate := fs.Int("rate", 50000, "frames per second")
	dstMAC := fs.String("dst", "02:00:00:ff:ff:fe", "destination MAC of every frame")
	seed := fs.Uint64("seed", 1, "random seed for the source MACs")
	_ = fs.Parse(args) // ExitOnError: a bad flag exits
	dst, err := net.ParseMAC(*dstMAC)
	if err != nil {
		return err
	}
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return err
	}
	const ethPAll = 0x0003
	proto := uint16(ethPAll<<8 | ethPAll>>8)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(proto))
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	sll := &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: ifi.Index}
	if err := syscall.Bind(fd, sll); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(*seed, *seed^0xdeadbeef))
	frame := make([]byte, 60)
	copy(frame, dst)
	frame[12], frame[13] = 0x88, 0xb5 // local experimental ethertype: nothing in the VMs answers it
	var sent, errs uint64
	start := time.Now()
	lastLine, lastSent := start, uint64(0)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		now := time.Now()
		target := uint64(now.Sub(start).Seconds() * float64(*rate))
		for burst := 0; sent < target && burst < 5000; burst++ {
			r := rng.Uint64()
			frame[6] = byte(r)&0xfc | 0x02 // unicast, locally administered
			frame[7], frame[8], frame[9], frame[10], frame[11] = byte(r>>8), byte(r>>16), byte(r>>24), byte(r>>32), byte(r>>40)
			binary.BigEndian.PutUint64(frame[14:], sent)
			if err := syscall.Sendto(fd, frame, 0, sll); err != nil {
				errs++
			}
			sent++
		}
		if d := now.Sub(lastLine); d >= time.Second {
			fmt.Printf("flood t=%d sent=%d errors=%d rate=%.0f\n", now.UnixNano(), sent, errs, float64(sent-lastSent)/d.Seconds())
			lastLine, lastSent = now, sent
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("final sent=%d errors=%d seconds=%.1f rate=%.0f\n", sent, errs, secs, float64(sent)/secs)
	return nil
}
