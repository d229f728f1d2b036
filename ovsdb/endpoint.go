package ovsdb

import (
	"fmt"
	"net"
	"strings"
)

// ParseEndpoint checks an OVSDB endpoint: "unix:PATH", "tcp:HOST:PORT" or
// "ssl:HOST:PORT". The error says what is wrong with it.
func ParseEndpoint(ep string) (scheme, address string, err error) {
	scheme, address, ok := strings.Cut(ep, ":")
	if !ok || address == "" {
		return "", "", fmt.Errorf("endpoint %q: want unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT", ep)
	}
	switch scheme {
	case "unix":
		return scheme, address, nil
	case "tcp", "ssl":
		if _, port, err := net.SplitHostPort(address); err != nil || port == "" {
			return "", "", fmt.Errorf("endpoint %q: %s needs HOST:PORT", ep, scheme)
		}
		return scheme, address, nil
	}
	return "", "", fmt.Errorf("endpoint %q: unknown scheme %q (unix, tcp or ssl)", ep, scheme)
}
