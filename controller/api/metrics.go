package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics counts and times the API's requests by method and status code,
// and counts refused ones by reason.
type Metrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	refused  *prometheus.CounterVec
}

// NewMetrics registers the gRPC request metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loom_grpc_requests_total",
			Help: "gRPC requests by method and status code."}, []string{"method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "loom_grpc_request_seconds",
			Help: "gRPC request latency by method (streams: their whole life).", Buckets: prometheus.DefBuckets}, []string{"method"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "loom_grpc_refused_total",
			Help: "gRPC calls refused by the token check, by reason: missing_token, wrong_token (Unauthenticated), scope, foreign_client, unlisted_method (PermissionDenied)."}, []string{"reason"}),
	}
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(r) // every reason is exposed, at 0 until it happens
	}
	reg.MustRegister(m.requests, m.seconds, m.refused)
	return m
}

func (m *Metrics) observe(method string, start time.Time, err error) {
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.seconds.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

func (m *Metrics) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			start := time.Now()
			resp, err := h(ctx, req)
			m.observe(info.FullMethod, start, err)
			return resp, err
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			start := time.Now()
			err := h(srv, ss)
			m.observe(info.FullMethod, start, err)
			return err
		}),
	}
}
