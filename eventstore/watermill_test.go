package eventstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
)

func copyMeta(m message.Metadata) message.Metadata {
	out := message.Metadata{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestWatermill_PublisherAppendsAndSubscriberDeliversEveryColumn(t *testing.T) {
	ctx := context.Background()
	pool, _ := testkit.NewDatabase(t)
	store := eventstore.New(pool)
	stream := orderStream()

	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(pool), wsql.PublisherConfig{
		SchemaAdapter: eventstore.SchemaAdapter{},
	}, watermill.NopLogger{})
	require.NoError(t, err)
	meta, err := json.Marshal(eventstore.Metadata{EventID: uuid.New(), Actor: "customer:1",
		CorrelationID: "req-1", OccurredAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	var id eventstore.Metadata
	require.NoError(t, json.Unmarshal(meta, &id))
	msg := message.NewMessage(id.EventID.String(), message.Payload(`{"n":1}`))
	msg.Metadata = message.Metadata{
		eventstore.MetaStreamID: stream.ID, eventstore.MetaStreamType: stream.Type,
		eventstore.MetaEventType: "Placed", eventstore.MetaSchemaVersion: "2",
		eventstore.MetaEventMetadata: string(meta), eventstore.MetaExpectedVersion: "0",
	}
	require.NoError(t, pub.Publish(eventstore.Topic, msg))

	events, err := store.ReadStream(ctx, stream.ID, 1)
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.Equal(t, "Placed", events[0].Type)
	require.Equal(t, 2, events[0].SchemaVersion)
	require.Equal(t, "customer:1", events[0].Metadata.Actor)

	// A second publish expecting an empty stream is a version conflict.
	again := message.NewMessage(uuid.NewString(), message.Payload(`{}`))
	again.Metadata = copyMeta(msg.Metadata)
	again.Metadata.Set(eventstore.MetaEventMetadata, "")
	require.Error(t, pub.Publish(eventstore.Topic, again))

	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(pool), wsql.SubscriberConfig{
		ConsumerGroup: "wm_test", PollInterval: 10 * time.Millisecond,
		SchemaAdapter: eventstore.SchemaAdapter{}, OffsetsAdapter: eventstore.OffsetsAdapter(),
	}, watermill.NopLogger{})
	require.NoError(t, err)
	defer sub.Close()
	subCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ch, err := sub.Subscribe(subCtx, eventstore.Topic)
	require.NoError(t, err)
	got := <-ch
	require.NotNil(t, got)
	got.Ack()
	e, err := eventstore.EventFromMessage(got)
	require.NoError(t, err)
	require.Equal(t, events[0].Position, e.Position)
	require.Equal(t, events[0].EventID, e.EventID)
	require.Equal(t, stream.ID, e.StreamID)
	require.Equal(t, int64(1), e.Version)
	require.Equal(t, events[0].Metadata.OccurredAt.UTC(), e.Metadata.OccurredAt.UTC())
	require.JSONEq(t, `{"n":1}`, string(e.Payload))
}

func TestWatermill_PublishRefusesBadMessages(t *testing.T) {
	a := eventstore.SchemaAdapter{}
	_, err := a.InsertQuery(wsql.InsertQueryParams{Topic: eventstore.Topic})
	require.ErrorIs(t, err, eventstore.ErrInvalidEvent)

	one := message.NewMessage(uuid.NewString(), message.Payload(`{}`))
	one.Metadata = message.Metadata{eventstore.MetaStreamID: "a", eventstore.MetaStreamType: "order",
		eventstore.MetaEventType: "X"}
	two := message.NewMessage(uuid.NewString(), message.Payload(`{}`))
	two.Metadata = message.Metadata{eventstore.MetaStreamID: "b", eventstore.MetaStreamType: "order",
		eventstore.MetaEventType: "X"}
	_, err = a.InsertQuery(wsql.InsertQueryParams{Topic: eventstore.Topic, Msgs: message.Messages{one, two}})
	require.ErrorIs(t, err, eventstore.ErrInvalidEvent, "one call may not span two streams")

	bad := message.NewMessage("not-a-uuid", message.Payload(`{}`))
	bad.Metadata = copyMeta(one.Metadata)
	_, err = a.InsertQuery(wsql.InsertQueryParams{Topic: eventstore.Topic, Msgs: message.Messages{bad}})
	require.ErrorIs(t, err, eventstore.ErrInvalidEvent)

	badVersion := message.NewMessage(uuid.NewString(), message.Payload(`{}`))
	badVersion.Metadata = copyMeta(one.Metadata)
	badVersion.Metadata.Set(eventstore.MetaExpectedVersion, "x")
	_, err = a.InsertQuery(wsql.InsertQueryParams{Topic: eventstore.Topic, Msgs: message.Messages{badVersion}})
	require.ErrorIs(t, err, eventstore.ErrInvalidEvent)

	qs, err := a.SchemaInitializingQueries(wsql.SchemaInitializingQueriesParams{Topic: eventstore.Topic})
	require.NoError(t, err)
	require.Empty(t, qs, "migrations own the schema")
}

func TestCursorAt_FindsTheTransactionOfAPosition(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	res, err := store.Append(ctx, orderStream(), eventstore.NoStream, event("A", nil))
	require.NoError(t, err)
	c, ok, err := store.CursorAt(ctx, res.Position)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, res.Position, c.Position)
	require.Positive(t, c.TransactionID)
	_, ok, err = store.CursorAt(ctx, res.Position+100)
	require.NoError(t, err)
	require.False(t, ok)
}
