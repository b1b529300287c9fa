package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
	"comanda/projections"
)

// seedEvents stores n events over n/10 streams, 500 per append.
func seedEvents(b testing.TB, store *eventstore.Store, n int) {
	b.Helper()
	ctx := context.Background()
	for done := 0; done < n; done += 500 {
		batch := make([]eventstore.NewEvent, min(500, n-done))
		for j := range batch {
			batch[j] = eventstore.NewEvent{Type: "Tick",
				Payload:  json.RawMessage(fmt.Sprintf(`{"stream":%d,"n":%d}`, (done+j)/10, done+j)),
				Metadata: eventstore.Metadata{EventID: uuid.New(), OccurredAt: time.Now()}}
		}
		_, err := store.Append(ctx, eventstore.Stream{Type: "order", ID: uuid.NewString()},
			eventstore.NoStream, batch...)
		require.NoError(b, err)
	}
}

// upsertCounts is a simple read model: one row per stream counting events,
// written with one set-based statement per batch.
func upsertCounts(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	counts := map[string]int64{}
	last := map[string]int64{}
	for _, e := range events {
		counts[e.StreamID]++
		last[e.StreamID] = e.Position
	}
	ids := make([]string, 0, len(counts))
	ns, pos := make([]int64, 0, len(counts)), make([]int64, 0, len(counts))
	for id, n := range counts {
		ids, ns, pos = append(ids, id), append(ns, n), append(pos, last[id])
	}
	_, err := tx.Exec(ctx, `INSERT INTO stream_counts AS s (stream_id, events, position)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
		ON CONFLICT (stream_id) DO UPDATE SET events = s.events + excluded.events,
		position = excluded.position`, ids, ns, pos)
	return err
}

// BenchmarkProjector_CatchUp measures how fast a projector applies a backlog
// of 200,000 events, with a handler that does nothing and with an upsert.
func BenchmarkProjector_CatchUp(b *testing.B) {
	handlers := map[string]projections.HandlerFunc{
		"noop":   func(context.Context, pgx.Tx, []eventstore.Event) error { return nil },
		"upsert": upsertCounts,
	}
	for _, name := range []string{"noop", "upsert"} {
		b.Run(name, func(b *testing.B) {
			pool, _ := testkit.BenchDatabase(b, 8)
			store := eventstore.New(pool)
			_, err := pool.Exec(context.Background(), `CREATE TABLE stream_counts
				(stream_id text PRIMARY KEY, events bigint NOT NULL, position bigint NOT NULL)`)
			require.NoError(b, err)
			const backlog = 200_000
			seedEvents(b, store, backlog)
			b.ResetTimer()
			var applied int
			start := time.Now()
			for i := 0; i < b.N; i++ {
				p := projections.New(fmt.Sprintf("bench_%s_%d", name, i), store, handlers[name],
					projections.Config{CatchUpBatch: 5000})
				n, err := p.CatchUp(context.Background())
				require.NoError(b, err)
				applied += n
			}
			b.ReportMetric(float64(applied)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkProjector_Lag appends at a steady rate from 8 writers while a live
// projector follows, and reports the p50 and p99 delay between an event's
// commit and the projector applying it.
func BenchmarkProjector_Lag(b *testing.B) {
	pool, _ := testkit.BenchDatabase(b, 24)
	store := eventstore.New(pool)
	var (
		mu     sync.Mutex
		delays []time.Duration
	)
	handler := projections.HandlerFunc(func(_ context.Context, _ pgx.Tx, events []eventstore.Event) error {
		now := time.Now()
		mu.Lock()
		for _, e := range events {
			delays = append(delays, now.Sub(e.RecordedAt))
		}
		mu.Unlock()
		return nil
	})
	p := projections.New("lag", store, handler, projections.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	rate := benchRate()
	b.ResetTimer()
	total := max(b.N, rate*5) // at least five seconds of writing
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	per := total / 8
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(interval * 8)
			defer tick.Stop()
			for i := 0; i < per; i++ {
				<-tick.C
				_, err := store.Append(context.Background(),
					eventstore.Stream{Type: "order", ID: uuid.NewString()}, eventstore.NoStream,
					eventstore.NewEvent{Type: "Tick", Payload: json.RawMessage(`{}`),
						Metadata: eventstore.Metadata{EventID: uuid.New(), OccurredAt: time.Now()}})
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	head, err := store.Head(context.Background())
	require.NoError(b, err)
	require.NoError(b, p.WaitFor(context.Background(), head, 30*time.Second))
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	q := func(f float64) float64 { return float64(delays[int(f*float64(len(delays)-1))].Milliseconds()) }
	b.ReportMetric(float64(rate), "writes/s")
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
