package eventstore

import (
	stdsql "database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
)

// Message metadata keys that carry an event's columns through watermill.
const (
	MetaStreamID        = "stream_id"
	MetaStreamType      = "stream_type"
	MetaStreamVersion   = "stream_version"
	MetaEventType       = "event_type"
	MetaSchemaVersion   = "schema_version"
	MetaPosition        = "global_position"
	MetaTransactionID   = "transaction_id"
	MetaRecordedAt      = "recorded_at"
	MetaEventMetadata   = "event_metadata"
	MetaExpectedVersion = "expected_version"
)

// SchemaAdapter is the watermill-sql schema adapter for the events table. The
// table is created by migrations, so schema initialisation does nothing.
type SchemaAdapter struct {
	// BatchSize is how many events one subscriber query returns; 0 means 100.
	BatchSize int
}

var _ wsql.SchemaAdapter = SchemaAdapter{}

// OffsetsAdapter returns the watermill-sql offsets adapter that keeps
// consumer-group checkpoints in projection_offsets.
func OffsetsAdapter() wsql.DefaultPostgreSQLOffsetsAdapter {
	return wsql.DefaultPostgreSQLOffsetsAdapter{
		GenerateMessagesOffsetsTableName: func(string) string { return "projection_offsets" },
	}
}

// InsertQuery builds the append statement for messages published through a
// watermill publisher. All messages of one call must belong to one stream,
// named in their metadata; the expected version defaults to any. A stream
// already past the expected version fails the publish; because the
// publisher does not look at what the statement returned, an expected
// version beyond the stream's end stores nothing without an error, so
// commands use Store.Append, which reports both.
func (a SchemaAdapter) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	if len(params.Msgs) == 0 {
		return wsql.Query{}, fmt.Errorf("nothing to publish: %w", ErrInvalidEvent)
	}
	first := params.Msgs[0].Metadata
	stream := Stream{Type: first.Get(MetaStreamType), ID: first.Get(MetaStreamID)}
	expected := Any
	if v := first.Get(MetaExpectedVersion); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return wsql.Query{}, fmt.Errorf("expected version %q: %w", v, ErrInvalidEvent)
		}
		expected = ExpectedVersion(n)
	}
	events := make([]NewEvent, len(params.Msgs))
	for i, m := range params.Msgs {
		if m.Metadata.Get(MetaStreamID) != stream.ID {
			return wsql.Query{}, fmt.Errorf("one publish call spans two streams: %w", ErrInvalidEvent)
		}
		e, err := newEventFromMessage(m)
		if err != nil {
			return wsql.Query{}, err
		}
		events[i] = e
	}
	batch, err := appendArgs(stream, expected, events)
	if err != nil {
		return wsql.Query{}, err
	}
	return wsql.Query{Query: query("append"), Args: batch.args()}, nil
}

func newEventFromMessage(m *message.Message) (NewEvent, error) {
	e := NewEvent{Type: m.Metadata.Get(MetaEventType), Payload: json.RawMessage(m.Payload)}
	if raw := m.Metadata.Get(MetaEventMetadata); raw != "" {
		if err := json.Unmarshal([]byte(raw), &e.Metadata); err != nil {
			return NewEvent{}, fmt.Errorf("event metadata of message %s: %w", m.UUID, ErrInvalidEvent)
		}
	}
	if e.Metadata.EventID == uuid.Nil {
		id, err := uuid.Parse(m.UUID)
		if err != nil {
			return NewEvent{}, fmt.Errorf("message id %q is not a UUID: %w", m.UUID, ErrInvalidEvent)
		}
		e.Metadata.EventID = id
	}
	if v := m.Metadata.Get(MetaSchemaVersion); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return NewEvent{}, fmt.Errorf("schema version %q: %w", v, ErrInvalidEvent)
		}
		e.SchemaVersion = n
	}
	return e, nil
}

// SelectQuery returns the next batch of events for a consumer group.
func (a SchemaAdapter) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	next, err := params.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{
		Topic: params.Topic, ConsumerGroup: params.ConsumerGroup,
	})
	if err != nil {
		return wsql.Query{}, err
	}
	batch := a.BatchSize
	if batch <= 0 {
		batch = 100
	}
	return wsql.Query{Query: fmt.Sprintf(query("subscribe_select"), next.Query, batch), Args: next.Args}, nil
}

// UnmarshalMessage turns one row of SelectQuery into a watermill message
// whose metadata carries every column of the event.
func (a SchemaAdapter) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	e, err := ScanEvent(params.Row)
	if err != nil {
		return wsql.Row{}, fmt.Errorf("scan event row: %w", err)
	}
	msg := EventMessage(e)
	return wsql.Row{
		Offset:    e.Position,
		UUID:      []byte(msg.UUID),
		Payload:   msg.Payload,
		Msg:       msg,
		ExtraData: map[string]any{"transaction_id": wsql.XID8(e.TransactionID)},
	}, nil
}

// SchemaInitializingQueries returns nothing: migrations own the schema.
func (a SchemaAdapter) SchemaInitializingQueries(wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

// SubscribeIsolationLevel is REPEATABLE READ, which the snapshot filter needs.
func (a SchemaAdapter) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelRepeatableRead
}

// EventMessage encodes a stored event as a watermill message.
func EventMessage(e Event) *message.Message {
	msg := message.NewMessage(e.EventID.String(), message.Payload(e.Payload))
	meta, _ := json.Marshal(e.Metadata) // a struct of strings and a time cannot fail
	msg.Metadata = message.Metadata{
		MetaStreamID:      e.StreamID,
		MetaStreamType:    e.StreamType,
		MetaStreamVersion: strconv.FormatInt(e.Version, 10),
		MetaEventType:     e.Type,
		MetaSchemaVersion: strconv.Itoa(e.SchemaVersion),
		MetaPosition:      strconv.FormatInt(e.Position, 10),
		MetaTransactionID: strconv.FormatInt(e.TransactionID, 10),
		MetaRecordedAt:    e.RecordedAt.Format(time.RFC3339Nano),
		MetaEventMetadata: string(meta),
	}
	return msg
}

// EventFromMessage decodes a message made by EventMessage.
func EventFromMessage(msg *message.Message) (Event, error) {
	var (
		e   Event
		err error
	)
	md := msg.Metadata
	e.StreamID, e.StreamType, e.Type = md.Get(MetaStreamID), md.Get(MetaStreamType), md.Get(MetaEventType)
	e.Payload = json.RawMessage(msg.Payload)
	if e.EventID, err = uuid.Parse(msg.UUID); err != nil {
		return Event{}, fmt.Errorf("message id %q: %w", msg.UUID, err)
	}
	ints := []struct {
		key string
		dst *int64
	}{{MetaStreamVersion, &e.Version}, {MetaPosition, &e.Position}, {MetaTransactionID, &e.TransactionID}}
	for _, f := range ints {
		if *f.dst, err = strconv.ParseInt(md.Get(f.key), 10, 64); err != nil {
			return Event{}, fmt.Errorf("message %s field %s: %w", msg.UUID, f.key, err)
		}
	}
	if e.SchemaVersion, err = strconv.Atoi(md.Get(MetaSchemaVersion)); err != nil {
		return Event{}, fmt.Errorf("message %s schema version: %w", msg.UUID, err)
	}
	if e.RecordedAt, err = time.Parse(time.RFC3339Nano, md.Get(MetaRecordedAt)); err != nil {
		return Event{}, fmt.Errorf("message %s recorded at: %w", msg.UUID, err)
	}
	if err := json.Unmarshal([]byte(md.Get(MetaEventMetadata)), &e.Metadata); err != nil {
		return Event{}, fmt.Errorf("message %s metadata: %w", msg.UUID, err)
	}
	return e, nil
}
