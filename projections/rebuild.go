package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
)

// Rebuild is a rebuild of one read model in progress or finished.
type Rebuild struct {
	Projection string
	Version    int

	mu        sync.Mutex
	state     string
	done      int64
	remaining int64
	started   time.Time
	finished  time.Time
	err       error
	cancel    context.CancelFunc
	finishedC chan struct{}
}

// Progress is a snapshot of a rebuild.
type Progress struct {
	Projection       string  `json:"projection"`
	Version          int     `json:"version"`
	State            string  `json:"state"`
	EventsDone       int64   `json:"events_done"`
	EventsRemaining  int64   `json:"events_remaining"`
	EventsPerSecond  float64 `json:"events_per_second"`
	EstimatedSeconds float64 `json:"estimated_seconds_left"`
	StartedAt        string  `json:"started_at"`
	Error            string  `json:"error,omitempty"`
}

// Progress returns the rebuild's figures now.
func (r *Rebuild) Progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := time.Now()
	if !r.finished.IsZero() {
		end = r.finished
	}
	elapsed := end.Sub(r.started).Seconds()
	p := Progress{Projection: r.Projection, Version: r.Version, State: r.state,
		EventsDone: r.done, EventsRemaining: r.remaining,
		StartedAt: r.started.UTC().Format(time.RFC3339)}
	if elapsed > 0 {
		p.EventsPerSecond = float64(r.done) / elapsed
	}
	if p.EventsPerSecond > 0 {
		p.EstimatedSeconds = float64(r.remaining) / p.EventsPerSecond
	}
	if r.err != nil {
		p.Error = r.err.Error()
	}
	return p
}

// Wait blocks until the rebuild ends and returns its error.
func (r *Rebuild) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.finishedC:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *Rebuild) set(f func(r *Rebuild)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

// Rebuilds returns the latest rebuild of every read model that had one.
func (m *Manager) Rebuilds() map[string]*Rebuild {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*Rebuild, len(m.rebuilds))
	for k, v := range m.rebuilds {
		out[k] = v
	}
	return out
}

// Rebuild starts rebuilding a read model from the start of the log into a
// new version of its tables, while the current tables keep serving reads.
// Once the new tables have caught up, reads switch to them in one step and
// the old ones are dropped. It returns at once; the Rebuild reports progress.
// A rebuild interrupted by a crash resumes from its checkpoint.
func (m *Manager) Rebuild(ctx context.Context, name string) (*Rebuild, error) {
	d, ok := m.Definition(name)
	if !ok {
		return nil, ErrUnknownProjection
	}
	// Reserve the projection before touching the database, so two callers
	// (an admin and the resume at start-up, say) never rebuild it at once.
	m.mu.Lock()
	if r := m.rebuilds[name]; r != nil && r.Progress().State == "running" {
		m.mu.Unlock()
		return nil, ErrRebuildRunning
	}
	r := &Rebuild{Projection: name, state: "running", started: time.Now(),
		finishedC: make(chan struct{})}
	m.rebuilds[name] = r
	base := m.runCtx
	m.mu.Unlock()
	if base == nil {
		base = context.WithoutCancel(ctx)
	}
	fail := func(err error) (*Rebuild, error) {
		r.set(func(r *Rebuild) { r.state, r.err, r.finished = "failed", err, time.Now() })
		close(r.finishedC)
		return nil, err
	}

	pool := m.store.Pool()
	var (
		active  int
		pending *int
	)
	err := pool.QueryRow(ctx, query("version_state"), name).Scan(&active, &pending)
	if err != nil {
		return fail(fmt.Errorf("read version of %s: %w", name, err))
	}
	next := active + 1
	if pending != nil {
		next = *pending // resume: its tables and checkpoint are kept
	} else {
		if err := m.dropVersion(ctx, d, versionSuffix(next), d.group(next)); err != nil {
			return fail(err)
		}
		if _, err := pool.Exec(ctx, query("rebuild_begin"), name, next); err != nil {
			return fail(fmt.Errorf("record rebuild of %s: %w", name, err))
		}
	}
	if err := m.createVersion(ctx, d, versionSuffix(next), false); err != nil {
		return fail(err)
	}

	rctx, cancel := context.WithCancel(base)
	var cancelled bool
	r.set(func(r *Rebuild) {
		r.Version, r.cancel = next, cancel
		cancelled = errors.Is(r.err, errCancelled)
	})
	if cancelled {
		cancel()
	}

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(r.finishedC)
		err := m.runRebuild(rctx, d, r)
		r.set(func(r *Rebuild) {
			r.finished = time.Now()
			switch {
			case err == nil:
				r.state = "completed"
			case errors.Is(err, errCancelled):
				r.state = "cancelled"
			default:
				r.state, r.err = "failed", err
			}
		})
		if err != nil && !errors.Is(err, errCancelled) && rctx.Err() == nil {
			m.log.Error("rebuild failed", "projection", name, "error", err)
		}
	}()
	return r, nil
}

// CancelRebuild stops a running rebuild and drops its tables.
func (m *Manager) CancelRebuild(ctx context.Context, name string) error {
	m.mu.Lock()
	r := m.rebuilds[name]
	m.mu.Unlock()
	if _, ok := m.Definition(name); !ok {
		return ErrUnknownProjection
	}
	if r == nil || r.Progress().State != "running" {
		return &domain.Error{Code: domain.CodeConflict, Message: "no rebuild of " + name + " is running"}
	}
	var cancel context.CancelFunc
	r.set(func(r *Rebuild) { r.err, cancel = errCancelled, r.cancel })
	if cancel != nil {
		cancel()
	} // otherwise the rebuild is still starting and cancels itself on seeing r.err
	if err := r.Wait(ctx); err != nil && !errors.Is(err, errCancelled) {
		return err
	}
	return nil
}

func (m *Manager) runRebuild(ctx context.Context, d Definition, r *Rebuild) error {
	cfg := m.cfg
	cfg.Group = d.group(r.Version)
	p := New(d.Name, m.store, d.NewHandler(d.tablesFor(versionSuffix(r.Version))), cfg)
	progress := func(n int) {
		r.set(func(r *Rebuild) {
			r.done += int64(n)
			r.remaining = max(r.remaining-int64(n), 0)
		})
	}
	if err := m.measureRemaining(ctx, p, r); err != nil {
		return m.abandon(ctx, d, r, err)
	}

	// Bulk phase: the live projector keeps serving while the new tables fill.
	for {
		if _, err := p.CatchUpTo(ctx, nil, progress); err != nil {
			return m.abandon(ctx, d, r, err)
		}
		if err := m.measureRemaining(ctx, p, r); err != nil {
			return m.abandon(ctx, d, r, err)
		}
		if r.Progress().EventsRemaining < int64(cfg.CatchUpBatch) {
			break
		}
	}

	// Switch: stop the live projector, apply the last few events, point the
	// views at the new tables and drop the old ones, in one transaction.
	m.stop(d.Name)
	if _, err := p.CatchUpTo(ctx, nil, progress); err != nil {
		m.launch(m.projectorFor(d, r.Version-1))
		return m.abandon(ctx, d, r, err)
	}
	old := r.Version - 1
	err := pgx.BeginFunc(ctx, m.store.Pool(), func(tx pgx.Tx) error {
		if err := pointViews(ctx, tx, d, d.tablesFor(versionSuffix(r.Version))); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, query("version_activate"), d.Name, r.Version, d.schemaHash()); err != nil {
			return err
		}
		return dropTables(ctx, tx, d, versionSuffix(old), d.group(old))
	})
	if err != nil {
		m.launch(m.projectorFor(d, old))
		return m.abandon(ctx, d, r, fmt.Errorf("switch %s to version %d: %w", d.Name, r.Version, err))
	}
	np := m.projectorFor(d, r.Version)
	m.registry.Add(np)
	m.launch(np)
	r.set(func(r *Rebuild) { r.remaining = 0 })
	m.cfg.Metrics.SetRebuildProgress(d.Name, 1)
	return nil
}

func (m *Manager) measureRemaining(ctx context.Context, p *Projector, r *Rebuild) error {
	c, err := p.Checkpoint(ctx)
	if err != nil {
		return err
	}
	var n int64
	if err := m.store.Pool().QueryRow(ctx, query("count_after"), fmt.Sprint(c.TransactionID),
		c.Position).Scan(&n); err != nil {
		return fmt.Errorf("count events left for %s: %w", p.Name(), err)
	}
	r.set(func(r *Rebuild) { r.remaining = n })
	if total := r.Progress().EventsDone + n; total > 0 {
		m.cfg.Metrics.SetRebuildProgress(p.Name(), float64(r.Progress().EventsDone)/float64(total))
	}
	return nil
}

// abandon ends a failed or cancelled rebuild. A cancelled one drops its
// tables; one stopped by shutdown keeps them so it resumes at start-up.
func (m *Manager) abandon(ctx context.Context, d Definition, r *Rebuild, cause error) error {
	var cancelled bool
	r.set(func(r *Rebuild) { cancelled = errors.Is(r.err, errCancelled) })
	if !cancelled && ctx.Err() != nil {
		return cause // shutting down: leave everything for the resume
	}
	cleanup := context.WithoutCancel(ctx)
	if err := m.dropVersion(cleanup, d, versionSuffix(r.Version), d.group(r.Version)); err != nil {
		return errors.Join(cause, err)
	}
	if _, err := m.store.Pool().Exec(cleanup, query("rebuild_clear"), d.Name); err != nil {
		return errors.Join(cause, err)
	}
	if cancelled {
		return errCancelled
	}
	return cause
}

func (m *Manager) dropVersion(ctx context.Context, d Definition, suffix, group string) error {
	return pgx.BeginFunc(ctx, m.store.Pool(), func(tx pgx.Tx) error {
		return dropTables(ctx, tx, d, suffix, group)
	})
}

func dropTables(ctx context.Context, tx pgx.Tx, d Definition, suffix, group string) error {
	tables := d.tablesFor(suffix)
	for _, t := range d.Tables {
		phys := tables[t.Name]
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{phys}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop %s: %w", phys, err)
		}
		if _, err := tx.Exec(ctx, query("tables_forget"), d.Name, phys); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, query("group_drop"), group); err != nil {
		return fmt.Errorf("drop checkpoint %s: %w", group, err)
	}
	return nil
}
