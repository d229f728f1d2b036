package controller

import (
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// selfTargets knows the controller targets that mean this loomd, so a
// bridge's OVSDB row can say whether the bridge is Loom's: the operator
// runs `ovs-vsctl set-controller BR tcp:LOOM:6653` on the bridges Loom is
// to control, and on no other.
//
// A target means this loomd when
//   - it is unix:PATH and PATH, symlinks resolved, is the socket of one of
//     loomd's unix listeners (a lab on one machine);
//   - it is tcp:HOST:PORT or ssl:HOST:PORT, PORT is the port of one of
//     loomd's TCP listeners, and HOST is that listener's IP or, for a
//     listener on 0.0.0.0 or ::, loopback or an address of one of this
//     machine's interfaces;
//   - or it is one of the configured openflow.targets (a VIP, a NAT
//     address or a DNS name switches use to reach loomd), compared as
//     HOST:PORT without the scheme. Names in targets are never resolved:
//     a name is only ever matched as configured.
type selfTargets struct {
	mu        sync.Mutex
	listeners map[string]net.Addr // by their String()
	extra     map[string]bool     // configured HOST:PORT, lowercased
	local     []netip.Addr        // this machine's addresses, cached
	localAt   time.Time
}

// localTTL is how long the interface addresses are cached: reading them is
// a netlink dump, and the checks run on every OVSDB change.
const localTTL = 5 * time.Second

// defaultOpenFlowPort is the port of a controller target without one
// ("tcp:10.0.0.2"), as OVS reads it.
const defaultOpenFlowPort = "6653"

// setExtra sets the configured targets (openflow.targets).
func (s *selfTargets) setExtra(targets []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extra = map[string]bool{}
	for _, t := range targets {
		if hp, ok := hostPort(t); ok {
			s.extra[strings.ToLower(hp)] = true
		}
	}
}

// listening records a listener's address; the returned function forgets it.
func (s *selfTargets) listening(a net.Addr) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listeners == nil {
		s.listeners = map[string]net.Addr{}
	}
	k := a.Network() + ":" + a.String()
	s.listeners[k] = a
	return func() {
		s.mu.Lock()
		delete(s.listeners, k)
		s.mu.Unlock()
	}
}

// anyMatches says whether one of targets (a bridge's controllers) means
// this loomd.
func (s *selfTargets) anyMatches(targets []string) bool {
	for _, t := range targets {
		if s.matches(t) {
			return true
		}
	}
	return false
}

// matches applies the rule above to one target.
func (s *selfTargets) matches(target string) bool {
	if path, ok := strings.CutPrefix(target, "unix:"); ok {
		return s.isUnixListener(path)
	}
	hp, ok := hostPort(target)
	if !ok {
		return false // ptcp:, punix: (the switch listens) or garbage: not a target that reaches Loom
	}
	s.mu.Lock()
	configured := s.extra[strings.ToLower(hp)]
	listeners := make([]net.Addr, 0, len(s.listeners))
	for _, a := range s.listeners {
		listeners = append(listeners, a)
	}
	s.mu.Unlock()
	if configured {
		return true
	}
	host, port, _ := net.SplitHostPort(hp)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false // a name: only as configured
	}
	ip = ip.Unmap()
	for _, a := range listeners {
		tcp, ok := a.(*net.TCPAddr)
		if !ok || port != strconv.Itoa(tcp.Port) {
			continue
		}
		lip, ok := netip.AddrFromSlice(tcp.IP)
		if !ok {
			continue
		}
		lip = lip.Unmap()
		if !lip.IsUnspecified() {
			if lip == ip {
				return true
			}
			continue
		}
		if ip.IsLoopback() || s.isLocal(ip) {
			return true
		}
	}
	return false
}

// isUnixListener says whether path is one of the unix listeners' sockets.
func (s *selfTargets) isUnixListener(path string) bool {
	want := resolved(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.listeners {
		if a.Network() == "unix" && resolved(a.String()) == want {
			return true
		}
	}
	return false
}

// resolved is path made absolute with its symlinks resolved (as far as
// they resolve): OVS refuses sockets outside its run directory, so labs
// point bridges at a symlink to Loom's socket.
func resolved(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if p, err := filepath.Abs(path); err == nil {
		path = p
	}
	return filepath.Clean(path)
}

// isLocal says whether ip is an address of one of this machine's
// interfaces (in loomd's network namespace).
func (s *selfTargets) isLocal(ip netip.Addr) bool {
	s.mu.Lock()
	if time.Since(s.localAt) > localTTL {
		s.local, s.localAt = nil, time.Now()
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if x, ok := netip.AddrFromSlice(n.IP); ok {
						s.local = append(s.local, x.Unmap())
					}
				}
			}
		}
	}
	local := s.local
	s.mu.Unlock()
	for _, x := range local {
		if x == ip {
			return true
		}
	}
	return false
}

// hostPort is the HOST:PORT of a tcp: or ssl: target (OVS's default port
// when it names none), with an IP host in canonical form.
func hostPort(target string) (string, bool) {
	rest, ok := strings.CutPrefix(target, "tcp:")
	if !ok {
		if rest, ok = strings.CutPrefix(target, "ssl:"); !ok {
			return "", false
		}
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = strings.Trim(rest, "[]"), defaultOpenFlowPort
	}
	if host == "" || port == "" {
		return "", false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	return net.JoinHostPort(host, port), true
}
