package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/internal/group"
)

// serveObservability serves /metrics, /healthz and, when asked, pprof on
// l, on a goroutine of jobs that ends when the returned server is closed.
func serveObservability(jobs *group.Group, l net.Listener, ctl *controller.Controller, reg *prometheus.Registry, withPprof bool, log *logrus.Logger) *http.Server {
	reg.MustRegister(ctl.Collector(), buildInfo(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// /healthz is the network's health as Loom sees it: 200 "ok", or 503
	// with one line per condition (a switch away, an OVSDB silent, a
	// tunnel path down). /readyz is loomd's own: 200 once it accepts
	// switches, 503 before (and while it shuts down).
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		conds := ctl.Health()
		if len(conds) == 0 {
			_, _ = w.Write([]byte("ok\n")) // a scraper that left has no use for the error
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, c := range conds {
			fmt.Fprintf(w, "%s %s: %s\n", c.Kind, c.Subject, c.Message)
		}
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ctl.Ready() {
			http.Error(w, "not ready: not accepting switches", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// A client that opens a connection and never finishes its headers is
	// dropped instead of holding a goroutine and a socket (Slowloris).
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	jobs.Go("metrics-serve", func(context.Context) {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			log.WithError(err).Error("metrics server stopped")
		}
	})
	log.WithFields(logrus.Fields{"metrics": l.Addr().String(), "pprof": withPprof}).Info("serving /metrics and /healthz")
	return srv
}
