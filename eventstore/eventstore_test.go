package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newStore(t *testing.T) *eventstore.Store {
	t.Helper()
	pool, _ := testkit.NewDatabase(t)
	return eventstore.New(pool)
}

func event(typ string, body any) eventstore.NewEvent {
	payload, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return eventstore.NewEvent{
		Type:    typ,
		Payload: payload,
		Metadata: eventstore.Metadata{
			EventID: uuid.New(), Actor: "tester", OccurredAt: time.Now().UTC(),
		},
	}
}

func orderStream() eventstore.Stream {
	return eventstore.Stream{Type: "order", ID: uuid.NewString()}
}

func TestAppend_ConcurrentWritersOnOneStreamEachVersionWrittenOnce(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	stream := orderStream()
	const writers = 50

	// Round one: every writer expects an empty stream; exactly one wins.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
		losers  []error
	)
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, err := store.Append(ctx, stream, eventstore.NoStream, event("Tick", map[string]int{"w": i}))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners++
			} else {
				losers = append(losers, err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	require.Equal(t, 1, winners)
	require.Len(t, losers, writers-1)
	for _, err := range losers {
		require.ErrorIs(t, err, eventstore.ErrConcurrency)
		var ce *eventstore.ConcurrencyError
		require.True(t, errors.As(err, &ce))
		require.Equal(t, int64(1), ce.Actual)
	}

	// Round two: every writer retries with the version it reads until its
	// own event is in; nothing may be lost or written twice.
	conflicts := 0
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e := event("Tock", map[string]int{"w": i})
			for {
				v, err := store.StreamVersion(ctx, stream.ID)
				if err != nil {
					t.Error(err)
					return
				}
				_, err = store.Append(ctx, stream, eventstore.Exact(v), e)
				if err == nil {
					return
				}
				if !errors.Is(err, eventstore.ErrConcurrency) {
					t.Error(err)
					return
				}
				mu.Lock()
				conflicts++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()

	events, err := store.ReadStream(ctx, stream.ID, 1)
	require.NoError(t, err)
	require.Len(t, events, writers+1)
	seen := map[int]bool{}
	for i, e := range events {
		require.Equal(t, int64(i+1), e.Version, "versions are gap-free")
		if e.Type == "Tock" {
			var body map[string]int
			require.NoError(t, json.Unmarshal(e.Payload, &body))
			require.False(t, seen[body["w"]], "writer %d stored twice", body["w"])
			seen[body["w"]] = true
		}
	}
	require.Len(t, seen, writers)
	t.Logf("round two: %d conflicts resolved by retrying", conflicts)
}

func TestAppend_AnyVersionUnderContentionLosesNothing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	stream := orderStream()
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				_, err := store.Append(ctx, stream, eventstore.Any, event("Tick", nil))
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	v, err := store.StreamVersion(ctx, stream.ID)
	require.NoError(t, err)
	require.Equal(t, int64(160), v)
}

func TestAppend_SameEventIDTwiceIsStoredOnce(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	stream := orderStream()
	first := []eventstore.NewEvent{event("Placed", nil), event("Confirmed", nil)}

	res1, err := store.Append(ctx, stream, eventstore.NoStream, first...)
	require.NoError(t, err)
	require.Equal(t, int64(2), res1.Version)

	// The retry still expects an empty stream, which is stale by now.
	res2, err := store.Append(ctx, stream, eventstore.NoStream, first...)
	require.NoError(t, err)
	require.Equal(t, res1, res2)

	// With "any", the retry must not append a second copy either.
	res3, err := store.Append(ctx, stream, eventstore.Any, first...)
	require.NoError(t, err)
	require.Equal(t, res1, res3)

	events, err := store.ReadStream(ctx, stream.ID, 1)
	require.NoError(t, err)
	require.Len(t, events, 2)
}

func TestAppend_ReturnsVersionAndGlobalPosition(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	a, b := orderStream(), orderStream()

	r1, err := store.Append(ctx, a, eventstore.NoStream, event("One", nil))
	require.NoError(t, err)
	r2, err := store.Append(ctx, b, eventstore.NoStream, event("One", nil), event("Two", nil))
	require.NoError(t, err)
	r3, err := store.Append(ctx, a, eventstore.Exact(1), event("Two", nil))
	require.NoError(t, err)

	require.Equal(t, int64(1), r1.Version)
	require.Equal(t, int64(2), r2.Version)
	require.Equal(t, int64(2), r3.Version)
	require.Less(t, r1.Position, r2.Position)
	require.Less(t, r2.Position, r3.Position)

	head, err := store.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, r3.Position, head)
}

func TestAppend_StaleOrFutureExpectedVersionIsRejected(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := orderStream()
	_, err := store.Append(ctx, s, eventstore.NoStream, event("One", nil), event("Two", nil))
	require.NoError(t, err)

	for _, expected := range []int64{0, 1, 3, 7} {
		_, err := store.Append(ctx, s, eventstore.Exact(expected), event("X", nil))
		var ce *eventstore.ConcurrencyError
		require.ErrorAs(t, err, &ce, "expected version %d", expected)
		require.Equal(t, int64(2), ce.Actual)
		require.Equal(t, expected, ce.Expected)
	}
}

func TestAppend_InvalidEventsAreRefusedAndStoreNothing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := orderStream()
	bad := event("X", nil)
	bad.Payload = json.RawMessage(`{not json`)
	noType := event("", nil)
	noID := event("X", nil)
	noID.Metadata.EventID = uuid.Nil

	cases := map[string][]eventstore.NewEvent{
		"empty batch": nil, "bad json": {bad}, "no type": {noType}, "no id": {noID},
	}
	for name, events := range cases {
		_, err := store.Append(ctx, s, eventstore.Any, events...)
		require.ErrorIs(t, err, eventstore.ErrInvalidEvent, name)
	}
	_, err := store.Append(ctx, eventstore.Stream{ID: "x"}, eventstore.Any, event("X", nil))
	require.ErrorIs(t, err, eventstore.ErrInvalidEvent)

	v, err := store.StreamVersion(ctx, s.ID)
	require.NoError(t, err)
	require.Zero(t, v)
}

func TestReadStream_FromVersionAndAsOf(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	s := orderStream()
	for i := 1; i <= 5; i++ {
		_, err := store.Append(ctx, s, eventstore.Exact(int64(i-1)), event(fmt.Sprintf("E%d", i), nil))
		require.NoError(t, err)
		if i == 3 {
			time.Sleep(20 * time.Millisecond)
		}
	}

	from3, err := store.ReadStream(ctx, s.ID, 3)
	require.NoError(t, err)
	require.Len(t, from3, 3)
	require.Equal(t, "E3", from3[0].Type)

	asOf2, err := store.ReadStreamAsOf(ctx, s.ID, eventstore.AsOf{Version: 2})
	require.NoError(t, err)
	require.Len(t, asOf2, 2)
	require.Equal(t, "E2", asOf2[1].Type)

	all, err := store.ReadStream(ctx, s.ID, 1)
	require.NoError(t, err)
	cut := all[2].RecordedAt.Add(5 * time.Millisecond)
	asOfTime, err := store.ReadStreamAsOf(ctx, s.ID, eventstore.AsOf{Time: cut})
	require.NoError(t, err)
	require.Len(t, asOfTime, 3)

	require.Equal(t, "tester", all[0].Metadata.Actor)
	require.NotEqual(t, uuid.Nil, all[0].EventID)
	require.Equal(t, all[0].EventID, all[0].Metadata.EventID)

	none, err := store.ReadStream(ctx, "missing", 1)
	require.NoError(t, err)
	require.Empty(t, none)
}

func TestReadAll_ReturnsEveryEventInLogOrderAcrossPages(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	want := 0
	for i := 0; i < 7; i++ {
		batch := []eventstore.NewEvent{event("A", nil), event("B", nil), event("C", nil)}
		_, err := store.Append(ctx, orderStream(), eventstore.NoStream, batch...)
		require.NoError(t, err)
		want += len(batch)
	}

	var (
		got    []eventstore.Event
		cursor eventstore.Cursor
	)
	for {
		page, err := store.ReadAll(ctx, cursor, 4)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		last := page[len(page)-1]
		cursor = eventstore.Cursor{TransactionID: last.TransactionID, Position: last.Position}
	}
	require.Len(t, got, want)
	for i := 1; i < len(got); i++ {
		prev := eventstore.Cursor{TransactionID: got[i-1].TransactionID, Position: got[i-1].Position}
		cur := eventstore.Cursor{TransactionID: got[i].TransactionID, Position: got[i].Position}
		require.True(t, cur.After(prev))
	}
}

func TestUpcasters_OlderPayloadsAreReadInTheCurrentShape(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	up := eventstore.NewUpcasters()
	up.Register("Renamed", 1, func(p json.RawMessage) (json.RawMessage, error) {
		var v1 struct{ Name string }
		if err := json.Unmarshal(p, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{"full_name": v1.Name})
	})
	up.Register("Renamed", 2, func(p json.RawMessage) (json.RawMessage, error) {
		var v2 map[string]string
		if err := json.Unmarshal(p, &v2); err != nil {
			return nil, err
		}
		v2["source"] = "upcast"
		return json.Marshal(v2)
	})
	store := eventstore.New(pool, eventstore.WithUpcasters(up))
	s := orderStream()
	_, err := store.Append(ctx, s, eventstore.NoStream, event("Renamed", map[string]string{"Name": "Ana"}))
	require.NoError(t, err)

	events, err := store.ReadStream(ctx, s.ID, 1)
	require.NoError(t, err)
	require.Equal(t, 3, events[0].SchemaVersion)
	require.JSONEq(t, `{"full_name":"Ana","source":"upcast"}`, string(events[0].Payload))
	require.Panics(t, func() { up.Register("Renamed", 1, nil) })
}

func TestNewEventID_IsStablePerKeyAndIndex(t *testing.T) {
	require.Equal(t, eventstore.NewEventID("k", 0), eventstore.NewEventID("k", 0))
	require.NotEqual(t, eventstore.NewEventID("k", 0), eventstore.NewEventID("k", 1))
	require.NotEqual(t, eventstore.NewEventID("k", 0), eventstore.NewEventID("j", 0))
}
