package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
	"comanda/projections"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// seen is a read model that records each applied event once; applying an
// event twice violates its primary key and fails the test.
func seenTable(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(),
		`CREATE TABLE seen (position bigint PRIMARY KEY, event_type text NOT NULL)`)
	require.NoError(t, err)
}

func recordSeen(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	for _, e := range events {
		if _, err := tx.Exec(ctx, `INSERT INTO seen (position, event_type) VALUES ($1, $2)`,
			e.Position, e.Type); err != nil {
			return err
		}
	}
	return nil
}

func seenPositions(t *testing.T, pool *pgxpool.Pool) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT position FROM seen ORDER BY position`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	return got
}

func newEvent(typ string) eventstore.NewEvent {
	return eventstore.NewEvent{
		Type: typ, Payload: json.RawMessage(`{}`),
		Metadata: eventstore.Metadata{EventID: uuid.New(), OccurredAt: time.Now()},
	}
}

func appendN(t *testing.T, store *eventstore.Store, n int) []int64 {
	t.Helper()
	var positions []int64
	for i := 0; i < n; i++ {
		res, err := store.Append(context.Background(),
			eventstore.Stream{Type: "order", ID: uuid.NewString()}, eventstore.NoStream, newEvent("Placed"))
		require.NoError(t, err)
		positions = append(positions, res.Position)
	}
	return positions
}

func run(t *testing.T, p *projections.Projector) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func fastConfig() projections.Config {
	return projections.Config{PollInterval: 10 * time.Millisecond, RetryDelay: 10 * time.Millisecond}
}

func TestProjector_LateCommitIsDeliveredAndNothingAfterItIsSkipped(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	p := projections.New("seen", store, projections.HandlerFunc(recordSeen), fastConfig())
	run(t, p)

	// The slow transaction takes its position first and commits last.
	slow, err := pool.Begin(ctx)
	require.NoError(t, err)
	var slowPos int64
	err = slow.QueryRow(ctx, `INSERT INTO events
		(event_id, stream_id, stream_type, stream_version, event_type, payload, metadata)
		VALUES ($1, $2, 'order', 1, 'Slow', '{}', '{}') RETURNING global_position`,
		uuid.New(), uuid.NewString()).Scan(&slowPos)
	require.NoError(t, err)

	fast := appendN(t, store, 3)
	require.Greater(t, fast[0], slowPos)

	// While the slow transaction is open, the projector must not move past it.
	time.Sleep(150 * time.Millisecond)
	require.Empty(t, seenPositions(t, pool))

	require.NoError(t, slow.Commit(ctx))
	later := appendN(t, store, 2)

	want := append(append([]int64{slowPos}, fast...), later...)
	require.Eventually(t, func() bool { return len(seenPositions(t, pool)) == len(want) },
		5*time.Second, 10*time.Millisecond)
	require.ElementsMatch(t, want, seenPositions(t, pool))
}

func TestProjector_HandlerFailingThenSucceedingLeavesOneEffect(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	var calls atomic.Int32
	flaky := projections.HandlerFunc(func(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
		// Write first, then fail: the failed attempt's write must vanish.
		if err := recordSeen(ctx, tx, events); err != nil {
			return err
		}
		if calls.Add(1) <= 3 {
			return errors.New("transient failure")
		}
		return nil
	})
	positions := appendN(t, store, 1)
	p := projections.New("flaky", store, flaky, fastConfig())
	run(t, p)

	require.Eventually(t, func() bool { return len(seenPositions(t, pool)) == 1 },
		5*time.Second, 10*time.Millisecond)
	require.Equal(t, positions, seenPositions(t, pool))
	require.GreaterOrEqual(t, calls.Load(), int32(4))
	require.Nil(t, p.Failure())
}

func TestProjector_StopsOnAnEventThatKeepsFailingAndReportsIt(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	positions := appendN(t, store, 5)
	poison := positions[2]
	var broken atomic.Bool
	broken.Store(true)
	handler := projections.HandlerFunc(func(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
		for _, e := range events {
			if e.Position == poison && broken.Load() {
				return errors.New("cannot apply this event")
			}
		}
		return recordSeen(ctx, tx, events)
	})
	p := projections.New("stuck", store, handler, fastConfig())
	run(t, p)

	require.Eventually(t, func() bool { return p.Failure() != nil }, 5*time.Second, 10*time.Millisecond)
	f := p.Failure()
	require.Equal(t, poison, f.Position)
	require.Equal(t, "Placed", f.EventType)
	require.Contains(t, f.Error, "cannot apply this event")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, positions[:2], seenPositions(t, pool), "nothing after the failing event")

	st, err := p.Status(ctx)
	require.NoError(t, err)
	require.NotNil(t, st.Failure)
	require.Equal(t, positions[1], st.Position)

	broken.Store(false)
	require.Eventually(t, func() bool { return len(seenPositions(t, pool)) == 5 },
		5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return p.Failure() == nil }, time.Second, 10*time.Millisecond)
}

func TestProjector_CatchesUpInBatchesAndFollowsNewEvents(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	appendN(t, store, 250)

	cfg := fastConfig()
	cfg.CatchUpBatch = 40
	p := projections.New("batches", store, projections.HandlerFunc(recordSeen), cfg)
	n, err := p.CatchUp(ctx)
	require.NoError(t, err)
	require.Equal(t, 250, n)

	run(t, p)
	more := appendN(t, store, 5)
	require.NoError(t, p.WaitFor(ctx, more[4], 5*time.Second))
	require.Len(t, seenPositions(t, pool), 255)

	st, err := p.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, more[4], st.Head)
	require.Zero(t, st.LagEvents)
}

func TestProjector_WaitForTimesOutWhenStopped(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	p := projections.New("idle", store, projections.HandlerFunc(recordSeen), fastConfig())
	pos := appendN(t, store, 1)

	err := p.WaitFor(ctx, pos[0], 50*time.Millisecond)
	require.Error(t, err)
	require.Contains(t, err.Error(), "has not reached")

	_, err = p.CatchUp(ctx)
	require.NoError(t, err)
	require.NoError(t, p.WaitFor(ctx, pos[0], 50*time.Millisecond))
}

func TestProjector_TwoInstancesOfOneGroupApplyEachEventOnce(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	a := projections.New("shared", store, projections.HandlerFunc(recordSeen), fastConfig())
	b := projections.New("shared", store, projections.HandlerFunc(recordSeen), fastConfig())
	run(t, a)
	run(t, b)

	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendN(t, store, 25)
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(seenPositions(t, pool)) == 100 },
		10*time.Second, 20*time.Millisecond)
}

// ordersOnly records only order streams and says so through StreamFilter.
type ordersOnly struct{ calls atomic.Int32 }

func (h *ordersOnly) Handles(streamType string) bool { return streamType == "order" }

func (h *ordersOnly) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	h.calls.Add(1)
	for _, e := range events {
		if e.StreamType != "order" {
			return errors.New("a filtered stream reached Apply through the live path")
		}
	}
	return recordSeen(ctx, tx, events)
}

func TestProjector_EventsOfStreamsTheHandlerIgnoresStillMoveTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	seenTable(t, pool)
	store := eventstore.New(pool)
	h := &ordersOnly{}
	cfg := fastConfig()
	cfg.LiveBatch = 1000 // keep to the live path for a handful of events
	p := projections.New("filtered", store, h, cfg)
	run(t, p)

	// Let the projector settle into following the log before writing.
	time.Sleep(50 * time.Millisecond)
	other, err := store.Append(ctx, eventstore.Stream{Type: "product", ID: uuid.NewString()},
		eventstore.NoStream, newEvent("ProductAdded"))
	require.NoError(t, err)
	orders := appendN(t, store, 2)
	require.NoError(t, p.WaitFor(ctx, orders[1], 5*time.Second))
	require.NoError(t, p.WaitFor(ctx, other.Position, time.Second))
	require.Equal(t, orders, seenPositions(t, pool))
	require.Nil(t, p.Failure())
}
