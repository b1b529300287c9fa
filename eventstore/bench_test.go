package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
)

// benchPayload is about the size of a real order event.
var benchPayload = json.RawMessage(`{"order_id":"6c1f4f6e-4d59-4b3e-9d43-0f2f3c1f9a10",` +
	`"status":"confirmed","reason":"","by_role":"business_owner","from":"placed","to":"confirmed"}`)

func benchEvent() eventstore.NewEvent {
	return eventstore.NewEvent{Type: "OrderStatusChanged", Payload: benchPayload,
		Metadata: eventstore.Metadata{EventID: uuid.New(), Actor: "business_owner:bench",
			CorrelationID: "bench", OccurredAt: time.Now().UTC()}}
}

// BenchmarkAppend_OneEvent appends one event per call to new streams, all of
// one stream type, from 1 and 16 goroutines.
func BenchmarkAppend_OneEvent(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			pool, _ := testkit.BenchDatabase(b, int32(workers+4))
			store := eventstore.New(pool)
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			var n atomic.Int64
			runWorkers(b, workers, func() {
				_, err := store.Append(ctx, eventstore.Stream{Type: "order", ID: uuid.NewString()},
					eventstore.NoStream, benchEvent())
				if err != nil {
					b.Error(err)
				}
				n.Add(1)
			})
			b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkAppend_HundredEvents appends 100 events per call.
func BenchmarkAppend_HundredEvents(b *testing.B) {
	pool, _ := testkit.BenchDatabase(b, 8)
	store := eventstore.New(pool)
	ctx := context.Background()
	batch := make([]eventstore.NewEvent, 100)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = benchEvent()
		}
		_, err := store.Append(ctx, eventstore.Stream{Type: "order", ID: uuid.NewString()},
			eventstore.NoStream, batch...)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(b.N*100)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkReadAll reads the log in pages of 1000 events; one iteration is
// one page, starting over at the end of the log.
func BenchmarkReadAll(b *testing.B) {
	pool, _ := testkit.BenchDatabase(b, 8)
	store := eventstore.New(pool)
	ctx := context.Background()
	seed(b, store, 100_000)
	b.ResetTimer()
	start := time.Now()
	read := 0
	var cur eventstore.Cursor
	for i := 0; i < b.N; i++ {
		page, err := store.ReadAll(ctx, cur, 1000)
		require.NoError(b, err)
		if len(page) < 1000 {
			cur = eventstore.Cursor{}
		} else {
			last := page[len(page)-1]
			cur = eventstore.Cursor{TransactionID: last.TransactionID, Position: last.Position}
		}
		read += len(page)
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "events/s")
}

// seed appends n events in calls of 500.
func seed(b testing.TB, store *eventstore.Store, n int) {
	b.Helper()
	ctx := context.Background()
	for done := 0; done < n; done += 500 {
		batch := make([]eventstore.NewEvent, min(500, n-done))
		for j := range batch {
			batch[j] = benchEvent()
		}
		_, err := store.Append(ctx, eventstore.Stream{Type: "order", ID: uuid.NewString()},
			eventstore.NoStream, batch...)
		require.NoError(b, err)
	}
}
