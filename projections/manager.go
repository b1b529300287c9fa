package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
	"comanda/eventstore"
)

// Manager owns the engine's versioned read models: it creates their tables,
// runs their projectors, rebuilds them side by side with the tables serving
// reads, and verifies them against a fresh replay of the log.
type Manager struct {
	store    *eventstore.Store
	registry *Registry
	cfg      Config
	log      *slog.Logger

	mu       sync.Mutex
	defs     map[string]Definition
	running  map[string]*runningProjector
	rebuilds map[string]*Rebuild
	runCtx   context.Context
	wg       sync.WaitGroup
}

type runningProjector struct {
	p      *Projector
	cancel context.CancelFunc
	done   chan struct{}
}

// NewManager returns a manager whose projectors use cfg (Group is ignored)
// and are listed in registry.
func NewManager(store *eventstore.Store, registry *Registry, cfg Config) *Manager {
	cfg.defaults()
	return &Manager{
		store: store, registry: registry, cfg: cfg, log: cfg.Logger,
		defs: map[string]Definition{}, running: map[string]*runningProjector{},
		rebuilds: map[string]*Rebuild{},
	}
}

// Register adds a read model. Call it before Start.
func (m *Manager) Register(d Definition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.defs[d.Name] = d
}

// Definition returns the read model called name.
func (m *Manager) Definition(name string) (Definition, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.defs[name]
	return d, ok
}

// Start makes sure the active version of every read model has its tables
// and views, and registers its projector. It does not run them; Run does.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defs := make([]Definition, 0, len(m.defs))
	for _, d := range m.defs {
		defs = append(defs, d)
	}
	m.mu.Unlock()
	for _, d := range defs {
		v, err := m.prepare(ctx, d)
		if err != nil {
			return err
		}
		m.registry.Add(m.projectorFor(d, v))
		m.cfg.Metrics.SetRebuildProgress(d.Name, 0)
	}
	return nil
}

// prepare creates the active version's tables and views when missing and
// returns the active version.
func (m *Manager) prepare(ctx context.Context, d Definition) (int, error) {
	pool := m.store.Pool()
	if _, err := pool.Exec(ctx, query("version_init"), d.Name, d.schemaHash()); err != nil {
		return 0, fmt.Errorf("record version of %s: %w", d.Name, err)
	}
	var (
		active  int
		hash    string
		rebuild *int
	)
	if err := pool.QueryRow(ctx, query("version_get"), d.Name).Scan(&active, &hash, &rebuild); err != nil {
		return 0, fmt.Errorf("read version of %s: %w", d.Name, err)
	}
	if err := m.createVersion(ctx, d, versionSuffix(active), true); err != nil {
		return 0, err
	}
	if hash != d.schemaHash() {
		// TODO: a changed table schema is only reported; the operator starts
		// the rebuild that moves the read model to the new shape.
		m.log.Warn("read model schema changed; rebuild it", "projection", d.Name)
	}
	return active, nil
}

// createVersion creates the tables of one version and, for the active one,
// points the views at them, in one transaction.
func (m *Manager) createVersion(ctx context.Context, d Definition, suffix string, views bool) error {
	tables := d.tablesFor(suffix)
	return pgx.BeginFunc(ctx, m.store.Pool(), func(tx pgx.Tx) error {
		// One advisory lock per projection keeps two engines starting at once
		// from racing on CREATE TABLE IF NOT EXISTS.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", d.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, tables.Expand(d.Schema)); err != nil {
			return fmt.Errorf("create tables of %s %s: %w", d.Name, suffix, err)
		}
		for _, t := range d.Tables {
			if _, err := tx.Exec(ctx, query("tables_register"), d.Name, tables[t.Name]); err != nil {
				return err
			}
		}
		if views {
			return pointViews(ctx, tx, d, tables)
		}
		return nil
	})
}

func pointViews(ctx context.Context, tx pgx.Tx, d Definition, tables Tables) error {
	for _, t := range d.Tables {
		sql := fmt.Sprintf("DROP VIEW IF EXISTS %s; CREATE VIEW %s AS SELECT * FROM %s",
			pgx.Identifier{t.Name}.Sanitize(), pgx.Identifier{t.Name}.Sanitize(),
			pgx.Identifier{tables[t.Name]}.Sanitize())
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("point view %s at %s: %w", t.Name, tables[t.Name], err)
		}
	}
	return nil
}

func (m *Manager) projectorFor(d Definition, v int) *Projector {
	cfg := m.cfg
	cfg.Group = d.group(v)
	return New(d.Name, m.store, d.NewHandler(d.tablesFor(versionSuffix(v))), cfg)
}

// Run runs every registered projector, resumes rebuilds a crash interrupted,
// and returns when ctx is done and everything has stopped.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	m.runCtx = ctx
	m.mu.Unlock()
	for _, name := range m.registry.Names() {
		p, _ := m.registry.Get(name)
		m.launch(p)
	}
	m.resumeRebuilds(ctx)
	tick := time.NewTicker(versionCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.wg.Wait()
			return
		case <-tick.C:
			m.followVersions(ctx)
		}
	}
}

// versionCheckInterval is how often an engine checks whether another engine
// sharing the database switched a read model to a rebuilt version.
const versionCheckInterval = 2 * time.Second

// followVersions moves this engine's projectors to the version another
// engine's rebuild made active; without it they would keep writing to
// tables the switch dropped.
func (m *Manager) followVersions(ctx context.Context) {
	for _, name := range m.registry.Names() {
		d, ok := m.Definition(name)
		if !ok {
			continue
		}
		if r := m.Rebuilds()[name]; r != nil && r.Progress().State == "running" {
			continue // this engine drives the switch itself
		}
		var (
			active  int
			pending *int
		)
		if err := m.store.Pool().QueryRow(ctx, query("version_state"), name).Scan(&active, &pending); err != nil {
			continue
		}
		current, ok := m.registry.Get(name)
		if !ok || current.Group() == d.group(active) {
			continue
		}
		m.log.Info("read model switched to a rebuilt version by another engine",
			"projection", name, "version", active)
		m.stop(name)
		np := m.projectorFor(d, active)
		m.registry.Add(np)
		m.launch(np)
	}
}

func (m *Manager) launch(p *Projector) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.runCtx == nil {
		return // not running: Run launches what the registry holds
	}
	ctx, cancel := context.WithCancel(m.runCtx)
	rp := &runningProjector{p: p, cancel: cancel, done: make(chan struct{})}
	m.running[p.Name()] = rp
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(rp.done)
		if err := p.Run(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("projector stopped", "projection", p.Name(), "error", err)
		}
	}()
}

// stop stops the running projector of a read model and waits for it.
func (m *Manager) stop(name string) {
	m.mu.Lock()
	rp := m.running[name]
	delete(m.running, name)
	m.mu.Unlock()
	if rp != nil {
		rp.cancel()
		<-rp.done
	}
}

func (m *Manager) resumeRebuilds(ctx context.Context) {
	for _, name := range m.registry.Names() {
		var (
			active int
			v      *int
		)
		err := m.store.Pool().QueryRow(ctx, query("version_state"), name).Scan(&active, &v)
		if err != nil || v == nil {
			continue
		}
		m.log.Info("resuming interrupted rebuild", "projection", name, "version", *v)
		if _, err := m.Rebuild(ctx, name); err != nil && !errors.Is(err, ErrRebuildRunning) {
			m.log.Error("resume rebuild", "projection", name, "error", err)
		}
	}
}

// ErrUnknownProjection is returned for a read model name that is not
// registered.
var ErrUnknownProjection = &domain.Error{Code: domain.CodeNotFound, Message: "no such projection"}

// ErrRebuildRunning is returned when a rebuild of the read model is already
// in progress.
var ErrRebuildRunning = &domain.Error{Code: domain.CodeConflict,
	Message: "a rebuild of this projection is already running"}

var errCancelled = errors.New("rebuild cancelled")
