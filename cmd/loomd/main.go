// Command loomd is the Loom controller daemon: it accepts OpenFlow 1.3
// switches and runs Loom's apps on them. Wiring only: every behaviour
// lives in the packages it assembles.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/loomsdn/loom/apps"
	"github.com/loomsdn/loom/apps/acl"
	"github.com/loomsdn/loom/apps/discovery"
	"github.com/loomsdn/loom/apps/l2"
	"github.com/loomsdn/loom/apps/pipeline"
	"github.com/loomsdn/loom/apps/sflow"
	"github.com/loomsdn/loom/apps/static"
	"github.com/loomsdn/loom/apps/tunnel"
	"github.com/loomsdn/loom/apps/vlan"
	"github.com/loomsdn/loom/cluster"
	"github.com/loomsdn/loom/config"
	"github.com/loomsdn/loom/controller"
	"github.com/loomsdn/loom/controller/api"
	"github.com/loomsdn/loom/controller/northbound"
	"github.com/loomsdn/loom/controller/policy"
	"github.com/loomsdn/loom/internal/group"
	"github.com/loomsdn/loom/internal/memtrim"
	"github.com/loomsdn/loom/network"
	"github.com/loomsdn/loom/openflow"
	"github.com/loomsdn/loom/topology"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loomd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("loomd", flag.ContinueOnError)
	listen := fs.String("openflow-listen", "", "comma-separated OpenFlow listeners: tcp:HOST:PORT, :PORT, unix:PATH or ssl:HOST:PORT (default from config, else tcp::6653)")
	var ofTLS tlsFlags
	fs.StringVar(&ofTLS.cert, "openflow-tls-cert", "", "ssl: OpenFlow listeners' certificate (PEM; overrides openflow.tls.cert; re-read on SIGHUP)")
	fs.StringVar(&ofTLS.key, "openflow-tls-key", "", "the certificate's key (PEM; overrides openflow.tls.key)")
	fs.StringVar(&ofTLS.ca, "openflow-tls-ca", "", "CA certificates switches' certificates must chain to (PEM; overrides openflow.tls.ca; re-read on SIGHUP)")
	dbPath := fs.String("db", "./loom.db", "bbolt database file (not used in a cluster: state is in etcd)")
	etcdFlag := fs.String("etcd", "", "join a cluster: comma-separated etcd client URLs (http://H1:2379,...; overrides cluster.etcd)")
	instanceFlag := fs.String("instance", "", "this loomd's name in the cluster, unique among its instances (overrides cluster.instance)")
	cfgPath := fs.String("config", "", "YAML config file (optional)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	grpcListen := fs.String("grpc-listen", "127.0.0.1:9652", "gRPC API address (empty: no API)")
	grpcCert := fs.String("grpc-tls-cert", "", "serve the API over TLS with this certificate (PEM)")
	grpcKey := fs.String("grpc-tls-key", "", "the TLS certificate's key (PEM)")
	grpcClientCA := fs.String("grpc-client-ca", "", "require client certificates signed by this CA (mutual TLS)")
	grpcTokenFile := fs.String("grpc-token-file", "", "require bearer tokens from API clients: one per line as NAME SCOPE TOKEN, SCOPE read, app or operator (a lone token: operator; or set LOOM_TOKEN)")
	grpcInsecure := fs.Bool("grpc-insecure", false, "serve a writable API on a non-loopback --grpc-listen without TLS (no token, or tokens above scope read sent in clear)")
	metricsListen := fs.String("metrics-listen", "127.0.0.1:9653", "Prometheus /metrics and /healthz address (empty: none)")
	withPprof := fs.Bool("pprof", false, "also serve /debug/pprof on the metrics address")
	checkConfig := fs.String("check-config", "", "validate this config file, print what it would change on a running loomd's switches (at --grpc-listen), and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // asked for: the usage is printed, and that is success
		}
		return err
	}
	if *showVersion {
		printVersion(os.Stdout)
		return nil
	}
	if fs.NArg() > 0 { // `loomd version`: not a daemon on [::]:6653 with ./loom.db
		return fmt.Errorf("unexpected argument %q: loomd takes flags only (loomd --help; loomd --version)", fs.Arg(0))
	}
	if *checkConfig != "" {
		return checkConfigFile(*checkConfig, *grpcListen, os.Stdout)
	}
	log, err := newLogger(*level, *format)
	if err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *listen != "" {
		cfg.OpenFlow.Listen = strings.Split(*listen, ",")
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--openflow-listen: %w", err)
		}
	}
	srvTLS, err := openflowTLS(cfg.OpenFlow, ofTLS, log)
	if err != nil {
		return err
	}

	// finished tells the shutdown watchdog (below) that run returned. Its
	// close is the last of run's defers: the watchdog covers the
	// controller's Close (the persister's flush) and the database's too.
	finished := make(chan struct{})
	defer close(finished)
	if err := applyClusterFlags(&cfg, *etcdFlag, *instanceFlag); err != nil {
		return err
	}
	be, err := openBackend(cfg, *dbPath, cluster.Instance{OpenFlow: cfg.OpenFlow.Listen, API: *grpcListen, Version: version}, log)
	if err != nil {
		return err
	}
	started := false
	defer func() { be.close(started) }() // a failed first start leaves no database file behind
	db := be.Store

	top := topology.New()
	if data, err := db.LoadTopology(); err != nil {
		return fmt.Errorf("%s: %w", be.where, err)
	} else if data != nil {
		if err := top.Restore(data); err != nil {
			return fmt.Errorf("%s: %w", be.where, err)
		}
		log.WithField("revision", top.Snapshot().Revision).Info("topology restored")
	}
	var hypervisors []topology.Hypervisor
	for _, h := range cfg.Hypervisors {
		hypervisors = append(hypervisors, topology.Hypervisor{Name: h.Name, OVSDB: h.OVSDB, TunnelIP: h.TunnelIP})
	}

	holder := network.NewHolder(nil) // the compiled policy the apps read
	policyOpts := policy.Options{Policy: holder, File: cfg.NetworkSpec(), Store: db, Log: logrus.NewEntry(log)}
	if *cfgPath != "" {
		policyOpts.Reload = reloader(*cfgPath, cfg, log)
	}
	ovsdbTLS, err := cfg.OVSDBTLS.Client("ovsdb_tls") // validated with the config
	if err != nil {
		return err
	}
	foreign := controller.KeepForeign
	if cfg.Flows.Foreign == "remove" {
		foreign = controller.RemoveForeign
	}
	appList, err := pipelineApps(cfg, top, holder, be.discoveryOptions()...)
	if err != nil {
		return fmt.Errorf("config %s: %w", *cfgPath, err)
	}
	ctl, err := controller.New(controller.Config{
		OpenFlow: openflow.Config{
			EchoInterval: time.Duration(cfg.OpenFlow.EchoInterval),
			HelloTimeout: time.Duration(cfg.OpenFlow.HelloTimeout),
		},
		VerifyInterval:     time.Duration(cfg.Flows.VerifyInterval),
		ForgetAfter:        time.Duration(cfg.OpenFlow.ForgetAfter),
		PacketInRate:       cfg.OpenFlow.PacketInRate,
		Foreign:            foreign,
		Store:              db,
		Cluster:            be.mastership(),
		Topology:           top,
		DiscoverFrom:       cfg.HypervisorsDiscovery.Prefixes(),
		Targets:            cfg.OpenFlow.Targets,
		TLSCheckPeerCN:     cfg.OpenFlow.TLS.PeerCNIsHypervisor,
		OVSDBTLS:           ovsdbTLS,
		OVSDBServerNames:   cfg.OVSDBServerNames(),
		OVSDBProbeInterval: time.Duration(cfg.OVSDBProbeInterval),
		Log:                log,
	}, appList...)
	if err != nil {
		return err
	}
	if err := ctl.Restore(); err != nil {
		return err
	}
	pol := policy.New(ctl, policyOpts)
	if err := pol.Restore(); err != nil {
		return err
	}
	if err := be.share(ctl, pol, appList); err != nil {
		return err
	}
	defer ctl.Close() // after the listeners are done: flush what is pending

	reg := prometheus.NewRegistry()
	apiObj := northbound.New(ctl, pol, version)
	grpcSrv, err := newAPIServer(apiObj, reg, log, apiFlags{listen: *grpcListen, cert: *grpcCert, key: *grpcKey,
		clientCA: *grpcClientCA, tokenFile: *grpcTokenFile, insecure: *grpcInsecure})
	if err != nil {
		return err
	}

	var listeners []net.Listener
	for _, addr := range cfg.OpenFlow.Listen {
		l, err := controller.ListenTLS(strings.TrimSpace(addr), srvTLS)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// The last resort behind the ordered, bounded shutdown below: whatever
	// hangs, the process (and with it the database lock) is gone soon
	// after a signal.
	context.AfterFunc(ctx, func() { exitIfStuck(shutdownLimit, finished, log) })
	// loomd's own goroutines (signal handlers, memory trimming, the
	// metrics and API servers) end with ctx or with the servers' close,
	// and are awaited before the controller closes: a reload is not
	// halfway through when it does.
	jobs := group.New(ctx, logrus.NewEntry(log))
	defer jobs.CloseWithin(daemonStopWait)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1) // before anyone can send it: its default action is to exit
	defer signal.Stop(usr1)
	jobs.Go("log-runtime-on-sigusr1", func(ctx context.Context) { logRuntimeOnSignal(ctx, usr1, log, ctl) })
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // its default action is to exit too
	defer signal.Stop(hup)
	jobs.Go("reload-on-sighup", func(ctx context.Context) { reloadOnSignal(ctx, hup, pol, reloadTLS(srvTLS, log)) })
	// The topology's saver is awaited without a bound, just below: its
	// last write must land before the database closes.
	persisted := make(chan struct{})
	go func() {
		controller.PersistTopology(ctx, top, db, time.Second, logrus.NewEntry(log))
		close(persisted)
	}()
	defer func() { stop(); <-persisted }() // the last topology write lands before the database closes
	ctl.RunHypervisors(ctx, hypervisors)
	jobs.Go("memtrim", func(ctx context.Context) {
		memtrim.Run(ctx, memTrimEvery, func(freed uint64) {
			log.WithField("free_mib", freed>>20).Info("returned free memory to the system after a load spike")
		})
	})
	if *metricsListen != "" {
		ml, err := net.Listen("tcp", *metricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		msrv := serveObservability(jobs, ml, ctl, reg, *withPprof, log)
		defer msrv.Close()
	}
	if *grpcListen != "" {
		gl, err := net.Listen("tcp", *grpcListen)
		if err != nil {
			return fmt.Errorf("--grpc-listen: %w", err)
		}
		log.WithField("grpc", gl.Addr().String()).Info("serving the gRPC API")
		jobs.Go("grpc-serve", func(context.Context) {
			// Serve returns nil after Stop (stopAPI); anything else is the listener failing.
			if err := grpcSrv.Serve(gl); err != nil {
				log.WithError(err).Error("gRPC API stopped serving")
			}
		})
		// The API stops at the signal, while sessions wind down, not
		// after them: its wait for clients runs beside theirs.
		apiStopped := make(chan struct{})
		context.AfterFunc(ctx, func() {
			stopAPI(apiObj, grpcSrv, apiStopWait, log)
			close(apiStopped)
		})
		defer func() { stop(); <-apiStopped }()
	}
	started = true
	log.WithFields(logrus.Fields{"version": version, "store": be.where, "pid": os.Getpid()}).Info("loomd starting")
	errs := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { errs <- ctl.Serve(ctx, l) }() // awaited just below, one error each
	}
	var firstErr error
	for range listeners {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
			stop() // one listener failing stops the daemon rather than leaving it half-deaf
		}
	}
	log.Info("loomd stopped")
	return firstErr
}

// memTrimEvery is how often loomd looks for free heap to return.
const memTrimEvery = 5 * time.Second

// daemonStopWait bounds the wait for loomd's own goroutines at shutdown;
// they only need to see ctx end or their server stop.
const daemonStopWait = time.Second

// Shutdown bounds: API streams get apiStopWait to end on their own
// before they are cut; the whole shutdown (sessions, persister, database)
// must be done within shutdownLimit or the process exits anyway.
const (
	apiStopWait   = 2 * time.Second
	shutdownLimit = 5 * time.Second
)

// stopAPI ends the API: streams are told to end, then the server stops
// gracefully, and after wait it is stopped hard, so clients that never
// read (or never hang up) cannot keep loomd alive.
func stopAPI(a *northbound.API, srv *grpc.Server, wait time.Duration, log *logrus.Logger) {
	a.Shutdown()
	done := make(chan struct{})
	go func() { // awaited below, after a hard Stop if need be
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		log.WithField("waited", wait).Warn("API clients still connected; closing their connections")
		srv.Stop()
		<-done
	}
}

// exitIfStuck exits the process when it is still running limit after a
// stop signal, logging every goroutine's stack to say what hung.
func exitIfStuck(limit time.Duration, finished <-chan struct{}, log *logrus.Logger) {
	// The watchdog has no owner on purpose: it must outlive whatever it
	// watches, and it ends when run returns (finished) or with the process.
	go func() {
		select {
		case <-finished:
			return
		case <-time.After(limit):
		}
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		log.WithField("limit", limit).Error("shutdown did not finish in time; exiting (goroutines follow)")
		os.Stderr.Write(buf[:n])
		os.Exit(2)
	}()
}

// apiFlags are the --grpc-* flags.
type apiFlags struct {
	listen, cert, key, clientCA, tokenFile string
	insecure                               bool
}

// newAPIServer builds the gRPC server from the flags.
func newAPIServer(a *northbound.API, reg prometheus.Registerer, log *logrus.Logger, f apiFlags) (*grpc.Server, error) {
	o := api.Options{Metrics: api.NewMetrics(reg), Log: log}
	if f.cert != "" || f.key != "" {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--grpc-tls-cert/--grpc-tls-key: %w", err)
		}
		o.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		if f.clientCA != "" {
			pem, err := os.ReadFile(f.clientCA)
			if err != nil {
				return nil, fmt.Errorf("--grpc-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--grpc-client-ca: %s holds no PEM certificate", f.clientCA)
			}
			o.TLS.ClientCAs, o.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	} else if f.clientCA != "" {
		return nil, errors.New("--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key")
	}
	tokens, err := loadTokens(f.tokenFile, os.Getenv("LOOM_TOKEN"))
	if err != nil {
		return nil, err
	}
	if err := checkAPIExposure(f.listen, o.TLS != nil, tokens, f.insecure); err != nil {
		return nil, err
	}
	o.Tokens = tokens
	if f.listen != "" {
		fields := logrus.Fields{"tls": o.TLS != nil, "tokens": len(tokens)}
		var names []string
		for _, t := range tokens {
			names = append(names, t.Name+":"+t.Scope.String())
		}
		if len(names) > 0 {
			fields["token_scopes"] = strings.Join(names, ",")
		}
		if f.insecure && checkAPIExposure(f.listen, o.TLS != nil, tokens, false) != nil {
			log.WithFields(fields).Warn("--grpc-insecure: the API is writable from the network without TLS")
		} else {
			log.WithFields(fields).Info("API access")
		}
	}
	return api.NewServer(a, o), nil
}

// pipelineApps are loomd's apps in pipeline order (see apps/pipeline).
// An app that reads its own config section gets it here; a section no
// app reads is refused, naming the key.
func pipelineApps(cfg config.Config, top *topology.Topology, policy *network.Holder, disc ...discovery.Option) ([]apps.App, error) {
	meshTop, portType := top, cfg.Tunnels.Type
	if portType == "none" {
		meshTop, portType = nil, "" // no mesh: the tunnel app computes nothing and keeps no port
	}
	tun := tunnel.New(tunnel.Options{Topology: meshTop, Policy: policy, Every: time.Duration(cfg.Tunnels.ProbeInterval),
		PeerTimeout: time.Duration(cfg.Tunnels.PeerTimeout), PortType: portType, Bridge: cfg.Tunnels.Bridge})
	vl := vlan.New(policy, top)
	vl.FloodBeyond(tun)
	var errs []error
	section := func(a apps.App, err error) apps.App { errs = append(errs, err); return a }
	list := []apps.App{
		tun,
		vl,
		acl.New(policy),
		l2.New(l2.Options{MaxMACs: cfg.Apps.L2.MaxMACs, HoldDown: time.Duration(cfg.Apps.L2.MoveHoldDown),
			SpoofHold: time.Duration(cfg.Apps.L2.SpoofHold), Topology: top,
			VLANs: vl, Learn: pipeline.L2Learn, Forward: pipeline.L2Forward}),
		static.New(staticEntries(cfg)),
		discovery.New(top, time.Duration(cfg.Apps.Discovery.Interval), disc...),
		section(sflow.New(cfg.Apps.Section(sflow.Name))),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name())
	}
	if err := cfg.Apps.Unclaimed(names); err != nil {
		return nil, err
	}
	if err := checkStatics(cfg, list); err != nil {
		return nil, err
	}
	return list, nil
}

// logRuntimeOnSignal logs one line of runtime state on each SIGUSR1, so an
// operator (or a test) can watch for leaks without a debug endpoint.
func logRuntimeOnSignal(ctx context.Context, sig <-chan os.Signal, log *logrus.Logger, ctl *controller.Controller) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st := ctl.Stats()
			log.WithFields(logrus.Fields{"goroutines": runtime.NumGoroutine(), "heap_bytes": ms.HeapAlloc,
				"switches": len(ctl.Switches()), "packet_ins": st.PacketIns, "packet_ins_dropped": st.PacketInsDropped,
				"flow_mods": st.FlowMods, "packet_outs": st.PacketOuts, "switch_errors": st.SwitchErrors,
				"rejected_connections": st.RejectedConns}).Info("runtime state")
		}
	}
}

func newLogger(level, format string) (*logrus.Logger, error) {
	log := logrus.New()
	lv, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	log.SetLevel(lv)
	switch format {
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true})
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{})
	default:
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
	log.SetOutput(os.Stderr)
	return log, nil
}
