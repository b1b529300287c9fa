package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
	"comanda/projections"
)

// countsDefinition is a small versioned read model: events per stream. Each
// batch sleeps a little so a rebuild takes long enough to interrupt.
func countsDefinition(pause time.Duration) projections.Definition {
	return projections.Definition{
		Name:   "counts",
		Tables: []projections.Table{{Name: "stream_events", Key: []string{"stream_id"}}},
		Schema: `CREATE TABLE IF NOT EXISTS {{stream_events}} (
			stream_id text PRIMARY KEY, events bigint NOT NULL)`,
		NewHandler: func(t projections.Tables) projections.Handler {
			upsert := t.Expand(`INSERT INTO {{stream_events}} AS s (stream_id, events) VALUES ($1, 1)
				ON CONFLICT (stream_id) DO UPDATE SET events = s.events + 1`)
			return projections.HandlerFunc(func(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
				time.Sleep(pause)
				for _, e := range events {
					if _, err := tx.Exec(ctx, upsert, e.StreamID); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
}

func startManager(t *testing.T, store *eventstore.Store, def projections.Definition,
	batch int) (*projections.Manager, *projections.Registry, context.CancelFunc, chan struct{}) {
	t.Helper()
	reg := projections.NewRegistry()
	m := projections.NewManager(store, reg,
		projections.Config{CatchUpBatch: batch, PollInterval: 10 * time.Millisecond})
	m.Register(def)
	require.NoError(t, m.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	return m, reg, cancel, done
}

func versionState(t *testing.T, pool *pgxpool.Pool) (int, *int) {
	t.Helper()
	var (
		active  int
		pending *int
	)
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT active_version, rebuild_version FROM projection_versions WHERE projection = 'counts'`).
		Scan(&active, &pending))
	return active, pending
}

func TestManager_RebuildInterruptedByACrashResumesFromItsCheckpoint(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	store := eventstore.New(pool)
	seedEvents(t, store, 3000)
	def := countsDefinition(2 * time.Millisecond)

	first, reg, stop, done := startManager(t, store, def, 20)
	head, err := store.Head(ctx)
	require.NoError(t, err)
	live, ok := reg.Get("counts")
	require.True(t, ok)
	require.NoError(t, live.WaitFor(ctx, head, 30*time.Second))

	r, err := first.Rebuild(ctx, "counts")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Progress().EventsDone >= 400 },
		10*time.Second, 5*time.Millisecond)
	stop() // the engine goes away in the middle of the rebuild
	<-done
	interrupted := r.Progress()
	require.Less(t, interrupted.EventsDone, int64(3000), "the rebuild was interrupted")
	active, pending := versionState(t, pool)
	require.Equal(t, 1, active, "reads stay on the old tables")
	require.NotNil(t, pending, "the rebuild is remembered")

	// The next engine resumes it from its checkpoint and switches over.
	second, _, stop2, done2 := startManager(t, store, def, 500)
	defer func() {
		stop2()
		<-done2
	}()
	require.Eventually(t, func() bool {
		r, ok := second.Rebuilds()["counts"]
		return ok && r.Progress().State == "completed"
	}, 30*time.Second, 20*time.Millisecond)
	resumed := second.Rebuilds()["counts"].Progress()
	require.Less(t, resumed.EventsDone, int64(3000), "it did not start over")
	active, pending = versionState(t, pool)
	require.Equal(t, 2, active)
	require.Nil(t, pending)

	var streams, events int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), sum(events) FROM stream_events`).
		Scan(&streams, &events))
	require.Equal(t, int64(3000), events, "every event counted exactly once")
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables
		WHERE tablename LIKE 'stream_events_v%'`).Scan(&tables))
	require.Equal(t, 1, tables, "the old version's table is dropped")
}

func TestManager_AnotherEngineFollowsARebuildToTheNewTables(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	store := eventstore.New(pool)
	seedEvents(t, store, 500)
	def := countsDefinition(0)

	a, _, stopA, doneA := startManager(t, store, def, 200)
	_, regB, stopB, doneB := startManager(t, store, def, 200)
	defer func() {
		stopA()
		stopB()
		<-doneA
		<-doneB
	}()
	head, err := store.Head(ctx)
	require.NoError(t, err)
	pb, _ := regB.Get("counts")
	require.NoError(t, pb.WaitFor(ctx, head, 10*time.Second))

	r, err := a.Rebuild(ctx, "counts")
	require.NoError(t, err)
	require.NoError(t, r.Wait(ctx))

	// The other engine moves its projector to the new version's group.
	require.Eventually(t, func() bool {
		p, ok := regB.Get("counts")
		return ok && p.Group() == "counts_v2"
	}, 10*time.Second, 50*time.Millisecond)

	seedEvents(t, store, 100)
	head, err = store.Head(ctx)
	require.NoError(t, err)
	pb, _ = regB.Get("counts")
	require.NoError(t, pb.WaitFor(ctx, head, 10*time.Second))
	var events int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT sum(events) FROM stream_events`).Scan(&events))
	require.Equal(t, int64(600), events, "every event counted once, by whichever engine")
}
