package controller

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// Listen opens an OpenFlow listener. addr is "tcp:HOST:PORT",
// "unix:PATH", or a bare "HOST:PORT" / ":PORT" meaning TCP. A stale unix
// socket file left by a killed process is replaced; any other file at
// that path is an error.
func Listen(addr string) (net.Listener, error) {
	network, address := "tcp", addr
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", rest
	} else if rest, ok := strings.CutPrefix(addr, "tcp:"); ok {
		address = rest
	}
	if address == "" {
		return nil, fmt.Errorf("listen address %q: empty address", addr)
	}
	if network == "unix" {
		if fi, err := os.Lstat(address); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("listen address %q: %s exists and is not a socket", addr, address)
			}
			os.Remove(address)
		}
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", addr, err)
	}
	return l, nil
}
