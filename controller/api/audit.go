package api

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Every call that changes something (an RPC needing scope app or more,
// unary) leaves one audit line (and an "audit" event in the stream): who (the token's name; else the client
// certificate's name; else "anonymous"), from where, what (the method
// and the request, flows and frames cut short), the result and how long
// it took. Refused calls are the refusal log's; an audited call is one
// the server took.

// callerKey carries the caller's token name from the authenticator.
type callerKey struct{}

func withCaller(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, callerKey{}, name)
}

// caller names who makes the call.
func caller(ctx context.Context) string {
	if name, _ := ctx.Value(callerKey{}).(string); name != "" {
		return "token " + name
	}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			return "certificate " + certName(info.State.PeerCertificates[0])
		}
	}
	return "anonymous"
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// audited says whether method changes something: its scope is above
// read, and it is not a packet-out (traffic an app sends, at any rate,
// not a change to what Loom keeps).
func audited(method string) bool {
	r, ok := ruleFor(method)
	return ok && !r.public && r.scope > ScopeRead && method != "/loom.v1.PacketService/SendPacketOut"
}

// maxAuditRequest bounds the request text in an audit line.
const maxAuditRequest = 512

// auditor records an audited call beyond the log (the event stream).
type auditor interface {
	Audit(who, method, result string)
}

func auditOptions(log logrus.FieldLogger, to auditor) []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !audited(info.FullMethod) {
			return h(ctx, req)
		}
		start := time.Now()
		resp, err := h(ctx, req)
		from := "unknown"
		if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
			from = p.Addr.String()
		}
		text := ""
		if m, ok := req.(proto.Message); ok {
			b, _ := protojson.MarshalOptions{}.Marshal(m)
			if text = string(b); len(text) > maxAuditRequest {
				text = text[:maxAuditRequest] + "…"
			}
		}
		who, result := caller(ctx), status.Code(err).String()
		if log != nil {
			log.WithFields(logrus.Fields{"who": who, "from": from, "method": info.FullMethod, "request": text,
				"result": result, "took": time.Since(start).Round(time.Microsecond)}).Info("API change")
		}
		if to != nil {
			to.Audit(who, info.FullMethod, result)
		}
		return resp, err
	})}
}
