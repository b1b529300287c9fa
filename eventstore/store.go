package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store appends and reads events. It is safe for concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	upcasters *Upcasters
	onAppend  func(streamType string, n int)
}

// Option configures a Store.
type Option func(*Store)

// WithUpcasters sets the registry that turns older payloads into the current
// shape on read.
func WithUpcasters(u *Upcasters) Option { return func(s *Store) { s.upcasters = u } }

// WithAppendHook calls fn after every successful append with the stream type
// and the number of events stored; metrics use it.
func WithAppendHook(fn func(streamType string, n int)) Option {
	return func(s *Store) { s.onAppend = fn }
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool, upcasters: NewUpcasters()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// maxAnyRetries bounds how often an Any append retries after losing a race.
const maxAnyRetries = 20

// Append stores events at the end of a stream when its version matches
// expected. It returns the new stream version and the global position of the
// last event. A version mismatch returns a *ConcurrencyError (matching
// ErrConcurrency). When every event id was stored before, Append stores
// nothing and returns the original version and position.
func (s *Store) Append(
	ctx context.Context, stream Stream, expected ExpectedVersion, events ...NewEvent,
) (AppendResult, error) {
	args, err := appendArgs(stream, expected, events)
	if err != nil {
		return AppendResult{}, err
	}

	for attempt := 0; ; attempt++ {
		res, err := s.tryAppend(ctx, args)
		if err == nil && res.Version > 0 {
			if s.onAppend != nil {
				s.onAppend(stream.Type, len(events))
			}
			return res, nil
		}
		lostRace := isUniqueViolation(err, "events_stream_version_key")
		if err != nil && !lostRace && !isUniqueViolation(err, "events_event_id_key") {
			return AppendResult{}, fmt.Errorf("append to stream %s: %w", stream.ID, err)
		}

		// The slow path: a retry of an earlier append, a lost race or a stale
		// expected version. Which one is decided from what is stored now.
		if prior, ok, err := s.priorAppend(ctx, stream.ID, events); err != nil || ok {
			return prior, err
		}
		if expected == Any && lostRace && attempt < maxAnyRetries {
			continue
		}
		actual, err := s.StreamVersion(ctx, stream.ID)
		if err != nil {
			return AppendResult{}, err
		}
		return AppendResult{}, &ConcurrencyError{
			StreamID: stream.ID, Expected: int64(expected), Actual: actual,
		}
	}
}

func (s *Store) tryAppend(ctx context.Context, b appendBatch) (AppendResult, error) {
	sql, args := query("append"), b.args()
	if len(b.ids) == 1 && b.expected >= 0 {
		// One event at an exact version: scalar arguments and no aggregate.
		sql = query("append_one")
		args = []any{b.stream.ID, b.stream.Type, b.expected, b.ids[0], b.types[0], b.versions[0],
			b.payloads[0], b.metas[0]}
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return AppendResult{}, err
	}
	var res AppendResult
	_, err = pgx.ForEachRow(rows, []any{&res.Position, &res.Version}, func() error { return nil })
	return res, err
}

// priorAppend reports whether every event was already stored, and where.
func (s *Store) priorAppend(
	ctx context.Context, streamID string, events []NewEvent,
) (AppendResult, bool, error) {
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.Metadata.EventID
	}
	rows, err := s.pool.Query(ctx, query("find_event_ids"), ids)
	if err != nil {
		return AppendResult{}, false, fmt.Errorf("look up event ids of stream %s: %w", streamID, err)
	}
	var (
		found    int
		res      AppendResult
		id       uuid.UUID
		storedIn string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &res.Position, &res.Version, &storedIn}, func() error {
		if storedIn != streamID {
			return fmt.Errorf("event id %s is already stored in another stream: %w",
				id, ErrInvalidEvent)
		}
		found++
		return nil
	})
	if err != nil {
		return AppendResult{}, false, err
	}
	return res, found == len(events), nil
}

// appendBatch is an append's events as the statement's parallel arrays.
type appendBatch struct {
	stream   Stream
	expected int64
	ids      []uuid.UUID
	types    []string
	versions []int32
	payloads []string
	metas    []string
}

func (b appendBatch) args() []any {
	return []any{b.stream.ID, b.stream.Type, b.expected, b.ids, b.types, b.versions, b.payloads, b.metas}
}

func appendArgs(stream Stream, expected ExpectedVersion, events []NewEvent) (appendBatch, error) {
	if stream.ID == "" || stream.Type == "" {
		return appendBatch{}, fmt.Errorf("stream needs an id and a type: %w", ErrInvalidEvent)
	}
	if len(events) == 0 {
		return appendBatch{}, fmt.Errorf("nothing to append: %w", ErrInvalidEvent)
	}
	n := len(events)
	b := appendBatch{stream: stream, expected: int64(expected), ids: make([]uuid.UUID, n),
		types: make([]string, n), versions: make([]int32, n), payloads: make([]string, n),
		metas: make([]string, n)}
	for i, e := range events {
		if e.Type == "" || e.Metadata.EventID == uuid.Nil {
			return appendBatch{}, fmt.Errorf("event %d needs a type and an event id: %w", i, ErrInvalidEvent)
		}
		if !json.Valid(e.Payload) {
			return appendBatch{}, fmt.Errorf("event %d payload is not JSON: %w", i, ErrInvalidEvent)
		}
		meta, err := json.Marshal(e.Metadata)
		if err != nil {
			return appendBatch{}, fmt.Errorf("encode metadata of event %d: %w", i, err)
		}
		b.ids[i], b.types[i], b.payloads[i], b.metas[i] = e.Metadata.EventID, e.Type, string(e.Payload), string(meta)
		b.versions[i] = int32(max(e.SchemaVersion, 1))
	}
	return b, nil
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// StreamVersion returns the current version of a stream, 0 when it is empty.
func (s *Store) StreamVersion(ctx context.Context, streamID string) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, query("stream_version"), streamID).Scan(&v); err != nil {
		return 0, fmt.Errorf("read version of stream %s: %w", streamID, err)
	}
	return v, nil
}

// ReadStream returns a stream's events from fromVersion on, oldest first.
func (s *Store) ReadStream(ctx context.Context, streamID string, fromVersion int64) ([]Event, error) {
	return s.readStream(ctx, streamID, fromVersion, AsOf{})
}

// ReadStreamAsOf returns a stream's events as they stood at a version or a
// point in time (recording time), oldest first.
func (s *Store) ReadStreamAsOf(ctx context.Context, streamID string, asOf AsOf) ([]Event, error) {
	return s.readStream(ctx, streamID, 1, asOf)
}

func (s *Store) readStream(
	ctx context.Context, streamID string, from int64, asOf AsOf,
) ([]Event, error) {
	until := int64(math.MaxInt64)
	if asOf.Version > 0 {
		until = asOf.Version
	}
	at := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if !asOf.Time.IsZero() {
		at = asOf.Time
	}
	rows, err := s.pool.Query(ctx, query("read_stream"), streamID, max(from, 1), until, at)
	if err != nil {
		return nil, fmt.Errorf("read stream %s: %w", streamID, err)
	}
	return s.collect(rows)
}

// ReadAll returns up to limit events after cursor, in the order projectors
// see them: by transaction, then position, and only from transactions that
// every reader can already see.
func (s *Store) ReadAll(ctx context.Context, after Cursor, limit int) ([]Event, error) {
	rows, err := s.pool.Query(ctx, query("read_all"),
		fmt.Sprint(after.TransactionID), after.Position, limit)
	if err != nil {
		return nil, fmt.Errorf("read all events: %w", err)
	}
	return s.collect(rows)
}

// Head returns the newest global position, 0 when the log is empty.
func (s *Store) Head(ctx context.Context) (int64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, query("head")).Scan(&head); err != nil {
		return 0, fmt.Errorf("read head position: %w", err)
	}
	return head, nil
}

// CursorAt returns the log cursor of the event at a global position; a
// position that holds no event returns ok false.
func (s *Store) CursorAt(ctx context.Context, position int64) (Cursor, bool, error) {
	var tx int64
	err := s.pool.QueryRow(ctx, query("position_cursor"), position).Scan(&tx)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cursor{}, false, nil
	}
	if err != nil {
		return Cursor{}, false, fmt.Errorf("look up position %d: %w", position, err)
	}
	return Cursor{TransactionID: tx, Position: position}, true, nil
}

// ScanEvent reads one row in the column order of the store's read queries:
// position, event id, stream id, stream type, version, type, schema version,
// payload, the metadata's correlation id, causation id, actor and occurred
// at (extracted in SQL, which is much cheaper than decoding JSON here),
// recorded at and transaction id.
func ScanEvent(row pgx.Row) (Event, error) {
	var (
		e                  Event
		payload            []byte
		corr, cause, actor *string
		occurred           *string
	)
	err := row.Scan(&e.Position, &e.EventID, &e.StreamID, &e.StreamType, &e.Version,
		&e.Type, &e.SchemaVersion, &payload, &corr, &cause, &actor, &occurred,
		&e.RecordedAt, &e.TransactionID)
	if err != nil {
		return Event{}, err
	}
	e.Payload = payload
	e.Metadata.EventID = e.EventID
	if corr != nil {
		e.Metadata.CorrelationID = *corr
	}
	if cause != nil {
		e.Metadata.CausationID = *cause
	}
	if actor != nil {
		e.Metadata.Actor = *actor
	}
	if occurred != nil {
		if e.Metadata.OccurredAt, err = time.Parse(time.RFC3339Nano, *occurred); err != nil {
			return Event{}, fmt.Errorf("decode occurred_at of event %d: %w", e.Position, err)
		}
	}
	return e, nil
}

func (s *Store) collect(rows pgx.Rows) ([]Event, error) {
	defer rows.Close()
	var events []Event
	for rows.Next() {
		e, err := ScanEvent(rows)
		if err != nil {
			return nil, err
		}
		if e, err = s.upcasters.Upcast(e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return events, nil
}

// Upcast applies the store's upcasters to an event read elsewhere, such as
// by a projector.
func (s *Store) Upcast(e Event) (Event, error) { return s.upcasters.Upcast(e) }
