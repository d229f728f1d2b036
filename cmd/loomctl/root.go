package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
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
	f.StringVar(&o.server, "server", envOr("LOOM_SERVER", "127.0.0.1:9652"), "loomd's gRPC address (env LOOM_SERVER)")
	f.StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	f.StringVar(&o.caFile, "ca", "", "CA certificate to verify loomd's TLS certificate (enables TLS)")
	f.StringVar(&o.cert, "cert", "", "client certificate for mutual TLS")
	f.StringVar(&o.key, "key", "", "client certificate key for mutual TLS")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "deadline for each request")
	root.AddCommand(newGet(o), newStatus(o), newWatch(o), newTopology(o), newFlows(o),
		newNet(o), newTrunk(o), newACL(o), newPlan(o), newReload(o), newForget(o), newVersion(o))
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
	return grpc.NewClient(o.server, grpc.WithTransportCredentials(creds))
}

// ctx is a request context with the deadline and the token.
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

func (o *options) ctx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	if tok := os.Getenv("LOOM_TOKEN"); tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	return ctx, cancel
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
