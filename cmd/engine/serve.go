package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"comanda/eventstore"
	"comanda/httpapi"
	"comanda/projections"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// engine is everything serve wires together.
type engine struct {
	cfg         config
	log         *slog.Logger
	db          *database
	store       *eventstore.Store
	registry    *prometheus.Registry
	projections *projections.Registry
	manager     *projections.Manager
	api         *httpapi.Server
	background  []func(ctx context.Context)
	closers     []func()
}

func buildEngine(ctx context.Context, cfg config, log *slog.Logger) (*engine, error) {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	e := &engine{cfg: cfg, log: log, db: db, registry: prometheus.NewRegistry()}
	e.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newPoolCollector(db.Pool),
	)
	appended := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "events_appended_total", Help: "Events appended to the event store.",
	}, []string{"stream_type"})
	e.registry.MustRegister(appended)
	for _, t := range []string{"business", "product", "order"} {
		appended.WithLabelValues(t) // exported at 0 before the first append
	}
	e.store = eventstore.New(db.Pool, eventstore.WithAppendHook(func(streamType string, n int) {
		appended.WithLabelValues(streamType).Add(float64(n))
	}))
	e.projections = projections.NewRegistry()

	modules, err := e.features(ctx)
	if err != nil {
		db.Close(ctx)
		return nil, err
	}
	e.api = httpapi.New(httpapi.Config{
		CORSOrigins: cfg.CORSOrigins, MaxBodyBytes: cfg.MaxBodyBytes, ReadWait: cfg.ReadWait, Version: version,
	}, httpapi.Deps{
		Pool: db.Pool, Store: e.store, Projections: e.projections,
		Metrics: e.registry, Gatherer: e.registry, Logger: log,
	}, modules...)
	return e, nil
}

// serve runs the API until SIGINT or SIGTERM, then drains requests, stops
// the projectors and background workers, and stops the embedded database,
// in that order.
func serve(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	started := time.Now()
	e, err := buildEngine(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer e.db.Close(context.WithoutCancel(ctx))
	defer func() {
		for _, c := range e.closers {
			c()
		}
	}()

	// A shared hold on the owner lock tells administration commands that
	// an engine runs projectors on this database.
	lockConn, err := e.db.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("hold engine lock: %w", err)
	}
	if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", ownerLock); err != nil {
		lockConn.Release()
		return fmt.Errorf("hold engine lock: %w", err)
	}
	defer lockConn.Release()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var work sync.WaitGroup
	for _, run := range e.background {
		work.Add(1)
		go func() {
			defer work.Done()
			run(workCtx)
		}()
	}

	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, log)
	}
	srv := e.api.HTTPServer(cfg.HTTPAddr)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("engine listening", "addr", ln.Addr().String(), "env", cfg.Env,
		"startup_ms", time.Since(started).Milliseconds())

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("engine stopping")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownWait)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		log.Warn("http shutdown", "error", serr)
	}
	stopWork()
	work.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func healthcheckCommand() *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the engine at --url answers /health with 200",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health check: status %d", resp.StatusCode)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/health", "health endpoint")
	return cmd
}
