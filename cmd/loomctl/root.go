package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// options are the global flags.
type options struct {
	server  string
	output  string
	caFile  string
	cert    string
	key     string
	timeout time.Duration
	// tokenFile, when set, holds the token; token is what was read.
	tokenFile, token string
}

func newRoot() *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:           "loomctl",
		Short:         "Operate a Loom SDN controller",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&o.server, "server", envOr("LOOM_SERVER", "127.0.0.1:9652"), "loomd's gRPC address, HOST[:PORT] (port 9652 when left out; env LOOM_SERVER)")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else env LOOM_TOKEN)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	f.StringVar(&o.caFile, "ca", "", "CA certificate to verify loomd's TLS certificate (enables TLS)")
	f.StringVar(&o.cert, "cert", "", "client certificate for mutual TLS")
	f.StringVar(&o.key, "key", "", "client certificate key for mutual TLS")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline for each request")
	root.AddCommand(newGet(o), newStatus(o), newWatch(o), newTopology(o), newFlows(o),
		newNet(o), newTrunk(o), newACL(o), newPlan(o), newReload(o), newForget(o), newVersion(o), newEvents(o))
	withExamples(root)
	withCompletion(root, o)
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// dial connects to loomd; the token comes from LOOM_TOKEN.
func (o *options) dial() (*grpc.ClientConn, error) {
	switch o.output {
	case "table", "json", "yaml":
	default:
		return nil, fmt.Errorf("--output: %q is not table, json or yaml", o.output)
	}
	creds := insecure.NewCredentials()
	if o.caFile != "" || o.cert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caFile != "" {
			pem, err := os.ReadFile(o.caFile)
			if err != nil {
				return nil, fmt.Errorf("--ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca: %s holds no PEM certificate", o.caFile)
			}
		}
		if o.cert != "" {
			pair, err := tls.LoadX509KeyPair(o.cert, o.key)
			if err != nil {
				return nil, fmt.Errorf("--cert/--key: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		creds = credentials.NewTLS(cfg)
	}
	if o.tokenFile != "" {
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		if o.token = strings.TrimSpace(string(data)); o.token == "" {
			return nil, fmt.Errorf("--token-file: %s is empty", o.tokenFile)
		}
	}
	return grpc.NewClient(serverAddr(o.server), grpc.WithTransportCredentials(creds))
}

// defaultAPIPort is loomd's gRPC port when --server names a host only.
const defaultAPIPort = "9652"

// serverAddr adds loomd's port to a host given without one (localhost,
// 10.0.0.5, [fd00::5], loom.example), where gRPC would pick 443.
func serverAddr(s string) string {
	if strings.Contains(s, "://") || strings.HasPrefix(s, "unix:") {
		return s
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), defaultAPIPort)
}

// explain adds what to check to an error reaching loomd at server.
func explain(err error, server string) string {
	line := oneLine(err)
	if status.Code(err) == codes.Unavailable && (strings.Contains(line, "connection refused") || strings.Contains(line, "dial") ||
		strings.Contains(line, "no such host") || strings.Contains(line, "deadline")) {
		line += fmt.Sprintf(" (tried %s: is loomd running with --grpc-listen there? set --server or LOOM_SERVER; with TLS, --ca)", serverAddr(server))
	}
	return line
}

// call dials loomd and runs fn with the connection and a request context
// (timeout and token), closing both after.
func (o *options) call(fn func(ctx context.Context, conn *grpc.ClientConn) error) error {
	conn, err := o.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := o.ctx()
	defer cancel()
	return fn(ctx, conn)
}

// ctx is a request context with the deadline and the token.
func (o *options) ctx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	return o.withToken(ctx), cancel
}

// withToken adds the API token (from --token-file, else LOOM_TOKEN).
func (o *options) withToken(ctx context.Context) context.Context {
	tok := o.token
	if tok == "" {
		tok = os.Getenv("LOOM_TOKEN")
	}
	if tok == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// oneLine renders an error as one line: a gRPC status shows its code and
// message, not the transport's wrapping.
func oneLine(err error) string {
	if s, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", s.Code(), s.Message())
	}
	var msg = err.Error()
	if errors.Unwrap(err) != nil {
		msg = err.Error()
	}
	return strings.ReplaceAll(msg, "\n", " ")
}
