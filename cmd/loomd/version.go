package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
)

// version is set at build time (make build: -ldflags "-X main.version=$(git describe)").
var version = "dev"

// printVersion is `loomd --version`.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "loomd %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// buildInfo is the loom_build_info metric: 1, labelled with the version,
// so dashboards can tell which loomd they are looking at.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "loom_build_info",
		Help: "Always 1; its labels say which loomd this is."}, []string{"version", "goversion"})
	g.WithLabelValues(version, runtime.Version()).Set(1)
	return g
}
