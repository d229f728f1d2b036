package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/loomsdn/loom/controller/api"
)

// loadTokens reads the API's tokens: the --grpc-token-file's (see
// api.ParseTokens for its format), else LOOM_TOKEN's (one operator token
// named "default"), else none. A file that cannot be read or holds no
// token is an error: it would leave the API open while the operator
// believes it closed.
func loadTokens(file, env string) ([]api.Token, error) {
	if file == "" {
		if env = strings.TrimSpace(env); env != "" {
			return []api.Token{{Name: api.DefaultTokenName, Scope: api.ScopeOperator, Secret: env}}, nil
		}
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--grpc-token-file: %w", err)
	}
	tokens, err := api.ParseTokens(b, file)
	if err != nil {
		return nil, fmt.Errorf("--grpc-token-file: %w (or leave the flag out)", err)
	}
	return tokens, nil
}

// checkAPIExposure refuses to serve a writable API in clear on an
// address other hosts can reach: with no token anyone there may change
// the network, and a token with more than read scope crosses the network
// readable by anyone on the path. Loopback addresses (and unix sockets)
// are fine without TLS; so is a network address with TLS, or with read
// tokens only; --grpc-insecure accepts the rest.
func checkAPIExposure(listen string, tlsOn bool, tokens []api.Token, insecure bool) error {
	if listen == "" || tlsOn || insecure || isLocalListen(listen) {
		return nil
	}
	if len(tokens) == 0 {
		return fmt.Errorf("--grpc-listen %s is not a loopback address, and without --grpc-tls-cert/--grpc-tls-key "+
			"and --grpc-token-file anyone who reaches it may change the network: serve TLS, require tokens, "+
			"listen on 127.0.0.1 or ::1, or accept the risk with --grpc-insecure", listen)
	}
	for _, t := range tokens {
		if t.Scope > api.ScopeRead {
			return fmt.Errorf("--grpc-listen %s is not a loopback address, and without --grpc-tls-cert/--grpc-tls-key "+
				"token %q (scope %s) would cross the network in clear: serve TLS, give tokens sent in clear "+
				"scope read only (--grpc-token-file), listen on 127.0.0.1 or ::1, or accept the risk with --grpc-insecure", listen, t.Name, t.Scope)
		}
	}
	return nil
}

// isLocalListen tells whether a --grpc-listen address is reachable from
// this host only: a loopback IP or "localhost" with a port, or a unix
// socket. An empty host ("":9652) listens on every address.
func isLocalListen(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
