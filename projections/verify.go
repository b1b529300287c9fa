package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"comanda/eventstore"
)

// Difference is one row that differs between a live read table and a fresh
// replay of the log.
type Difference struct {
	Table string `json:"table"`
	// Kind is "missing" (in the replay, not in the live table), "extra" (in
	// the live table only) or "changed".
	Kind string         `json:"kind"`
	Key  map[string]any `json:"key"`
	Live map[string]any `json:"live,omitempty"`
	Want map[string]any `json:"expected,omitempty"`
}

// Verification is the outcome of Verify.
type Verification struct {
	Projection  string       `json:"projection"`
	Position    int64        `json:"position"`
	Rows        int64        `json:"rows_compared"`
	Differences []Difference `json:"differences"`
}

// maxDifferences bounds how many differences one verification reports.
const maxDifferences = 1000

// Verify replays the whole log into scratch tables and compares them row by
// row with the live tables, at the same log position. The live projector
// pauses only for the last few events and the comparison.
func (m *Manager) Verify(ctx context.Context, name string) (*Verification, error) {
	d, ok := m.Definition(name)
	if !ok {
		return nil, ErrUnknownProjection
	}
	live, ok := m.registry.Get(name)
	if !ok {
		return nil, ErrUnknownProjection
	}
	suffix := "verify_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	group := d.Name + "_" + suffix
	if err := m.createVersion(ctx, d, suffix, false); err != nil {
		return nil, err
	}
	cleanup := context.WithoutCancel(ctx)
	defer func() { _ = m.dropVersion(cleanup, d, suffix, group) }()

	cfg := m.cfg
	cfg.Group = group
	scratch := New(d.Name, m.store, d.NewHandler(d.tablesFor(suffix)), cfg)
	if _, err := scratch.CatchUp(ctx); err != nil {
		return nil, fmt.Errorf("replay %s: %w", name, err)
	}

	wasRunning := m.isRunning(name)
	if wasRunning {
		m.stop(name)
		defer m.launch(live)
	}
	target, err := m.headCursor(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := live.CatchUpTo(ctx, &target, nil); err != nil {
		return nil, fmt.Errorf("bring %s up to date: %w", name, err)
	}
	if _, err := scratch.CatchUpTo(ctx, &target, nil); err != nil {
		return nil, fmt.Errorf("replay %s: %w", name, err)
	}
	liveTables, err := m.activeTables(ctx, d)
	if err != nil {
		return nil, err
	}
	out := &Verification{Projection: name, Position: target.Position, Differences: []Difference{}}
	for _, t := range d.Tables {
		if err := compare(ctx, m.store.Pool(), t, liveTables[t.Name], d.tablesFor(suffix)[t.Name], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Manager) isRunning(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.running[name]
	return ok
}

func (m *Manager) activeTables(ctx context.Context, d Definition) (Tables, error) {
	var (
		v       int
		pending *int
	)
	if err := m.store.Pool().QueryRow(ctx, query("version_state"), d.Name).Scan(&v, &pending); err != nil {
		return nil, fmt.Errorf("read version of %s: %w", d.Name, err)
	}
	return d.tablesFor(versionSuffix(v)), nil
}

// headCursor is the cursor of the newest event every reader can see.
func (m *Manager) headCursor(ctx context.Context) (eventstore.Cursor, error) {
	var c eventstore.Cursor
	err := m.store.Pool().QueryRow(ctx, query("head_cursor")).Scan(&c.TransactionID, &c.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Cursor{}, nil
	}
	return c, err
}

// compare reports rows of live and want that differ, matched by key.
func compare(ctx context.Context, pool interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}, t Table, live, want string, out *Verification) error {
	l, w := pgx.Identifier{live}.Sanitize(), pgx.Identifier{want}.Sanitize()
	var on, keyJSON []string
	for _, k := range t.Key {
		id := pgx.Identifier{k}.Sanitize()
		on = append(on, fmt.Sprintf("l.%s = w.%s", id, id))
		keyJSON = append(keyJSON, fmt.Sprintf("'%s', coalesce(l.%s, w.%s)", k, id, id))
	}
	q := fmt.Sprintf(`SELECT CASE WHEN l IS NULL THEN 'missing' WHEN w IS NULL THEN 'extra'
			ELSE 'changed' END,
		json_build_object(%s), to_jsonb(l), to_jsonb(w)
		FROM %s l FULL OUTER JOIN %s w ON %s
		WHERE l IS NULL OR w IS NULL OR to_jsonb(l) IS DISTINCT FROM to_jsonb(w)
		LIMIT %d`, strings.Join(keyJSON, ", "), l, w, strings.Join(on, " AND "), maxDifferences)
	rows, err := pool.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("compare %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		d := Difference{Table: t.Name}
		if err := rows.Scan(&d.Kind, &d.Key, &d.Live, &d.Want); err != nil {
			return err
		}
		out.Differences = append(out.Differences, d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+w).Scan(&n); err != nil {
		return err
	}
	out.Rows += n
	return nil
}
