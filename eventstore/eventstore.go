// Package eventstore keeps the order engine's events in PostgreSQL. The events
// table doubles as the watermill-sql topic table, so the projectors that read
// it through a watermill-sql subscriber inherit its ordering guarantee: rows
// are handed out in (transaction id, position) order, and only once every
// older transaction has finished, so a reader never skips a late commit.
//
// The package knows nothing about orders or catalogs; it stores opaque JSON
// payloads with their stream, version and metadata. It is not a message bus:
// it does not call handlers, the projections package does.
package eventstore

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"comanda/internal/sqlfile"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// Topic is the watermill topic whose table is the events table.
const Topic = "events"

// ErrConcurrency is returned by Append when the stream's version is not the
// expected one. The error also matches *ConcurrencyError, which carries the
// actual version.
var ErrConcurrency = errors.New("eventstore: stream version conflict")

// ErrInvalidEvent is returned by Append for an event that cannot be stored:
// an empty type, a payload that is not JSON, or an empty batch.
var ErrInvalidEvent = errors.New("eventstore: invalid event")

// ConcurrencyError reports a failed expected-version check.
type ConcurrencyError struct {
	StreamID string
	Expected int64
	Actual   int64
}

// Error implements error.
func (e *ConcurrencyError) Error() string {
	return fmt.Sprintf("eventstore: stream %s is at version %d, expected %s",
		e.StreamID, e.Actual, versionName(e.Expected))
}

// Is makes errors.Is(err, ErrConcurrency) true.
func (e *ConcurrencyError) Is(target error) bool { return target == ErrConcurrency }

// ExpectedVersion states which version a stream must be at for an append to
// go ahead: an exact version, NoStream (version 0) or Any.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's current version is.
	Any ExpectedVersion = -1
	// NoStream appends only when the stream has no events yet.
	NoStream ExpectedVersion = 0
)

// Exact expects the stream to be at version v.
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

func versionName(v int64) string {
	switch {
	case v < 0:
		return "any"
	case v == 0:
		return "no stream"
	default:
		return fmt.Sprint(v)
	}
}

// Stream identifies an event stream: one aggregate instance, such as an order.
type Stream struct {
	// Type is the kind of aggregate, such as "order" or "product".
	Type string
	// ID is unique across all stream types.
	ID string
}

// Metadata travels with every event and is stored as JSON beside it.
type Metadata struct {
	EventID       uuid.UUID `json:"event_id"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	CausationID   string    `json:"causation_id,omitempty"`
	Actor         string    `json:"actor,omitempty"`
	OccurredAt    time.Time `json:"occurred_at"`
}

// NewEvent is an event about to be appended.
type NewEvent struct {
	// Type names what happened, such as "OrderPlaced".
	Type string
	// SchemaVersion is the version of the payload's shape; 0 means 1.
	SchemaVersion int
	// Payload is the event's JSON body.
	Payload json.RawMessage
	// Metadata must carry a unique EventID; a retried append that repeats
	// the same ids stores nothing new.
	Metadata Metadata
}

// Event is a stored event.
type Event struct {
	Position      int64
	TransactionID int64
	EventID       uuid.UUID
	StreamID      string
	StreamType    string
	Version       int64
	Type          string
	SchemaVersion int
	Payload       json.RawMessage
	Metadata      Metadata
	RecordedAt    time.Time
}

// AppendResult tells where an append put its events.
type AppendResult struct {
	// Version is the stream's version after the append.
	Version int64
	// Position is the global position of the last event appended.
	Position int64
}

// Cursor is a place in the log in the order projectors read it.
type Cursor struct {
	TransactionID int64
	Position      int64
}

// After reports whether c is strictly after o in log order.
func (c Cursor) After(o Cursor) bool {
	if c.TransactionID != o.TransactionID {
		return c.TransactionID > o.TransactionID
	}
	return c.Position > o.Position
}

// AsOf bounds a stream read: up to a version, a recording time, or both.
type AsOf struct {
	Version int64     // 0 means no bound
	Time    time.Time // zero means no bound
}

// Reader reads a stream without writing; it is what command handlers and
// as-of reads need.
type Reader interface {
	ReadStream(ctx context.Context, streamID string, fromVersion int64) ([]Event, error)
	ReadStreamAsOf(ctx context.Context, streamID string, asOf AsOf) ([]Event, error)
}

// Ensure Store satisfies Reader.
var _ Reader = (*Store)(nil)

// NewEventID derives a deterministic event id from a command's idempotency
// key and the event's index in the command's output, so a command retried
// with the same key appends nothing new.
func NewEventID(key string, index int) uuid.UUID {
	return uuid.NewSHA1(eventIDSpace, []byte(fmt.Sprintf("%s/%d", key, index)))
}

var eventIDSpace = uuid.MustParse("9b0c7e44-5c1e-4f59-9a43-3f3c0f6c2a10")
