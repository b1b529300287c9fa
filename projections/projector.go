// Package projections runs projectors: loops that read the event log in order
// and keep read tables up to date. A projector's read-model writes and its
// checkpoint commit in one transaction, so a crash or a retry never applies
// an event twice or skips one.
//
// The package does not know any read model; those implement Handler in their
// own packages. A projection must only write its own tables: anything that
// talks to the outside world is not a projection, because rebuilds replay
// every event again.
package projections

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/eventstore"
	"comanda/internal/sqlfile"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// Handler applies events to a read model. Apply receives events in log order
// inside the transaction that also moves the checkpoint; it must write only
// through tx and must not talk to the outside world.
type Handler interface {
	// Apply writes the effects of events to the read model.
	Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error
}

// StreamFilter is implemented by handlers that only care about some stream
// types. Events of other streams are then acknowledged without calling
// Apply, which saves the live path a savepoint per event; the checkpoint
// still moves past them.
type StreamFilter interface {
	// Handles reports whether events of streamType matter to the handler.
	Handles(streamType string) bool
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error

// Apply calls f.
func (f HandlerFunc) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	return f(ctx, tx, events)
}

// Config tunes a projector. Zero values take the defaults noted.
type Config struct {
	// Group is the consumer group, which names the checkpoint. Required.
	Group string
	// PollInterval is how long an idle projector waits before looking for new
	// events; 50ms by default, which keeps lag well under 100 ms.
	PollInterval time.Duration
	// CatchUpBatch is how many events one catch-up transaction applies; 2000
	// by default.
	CatchUpBatch int
	// LiveBatch is the watermill subscriber's batch size; 100 by default.
	LiveBatch int
	// MaxAttempts is how often one event is tried before the projector stops
	// on it and reports it; 5 by default.
	MaxAttempts int
	// RetryDelay is the pause between attempts at a failing event and before
	// a stuck projector tries again; 200ms by default.
	RetryDelay time.Duration
	// Metrics receives the projector's figures; nil means none.
	Metrics *Metrics
	// Logger reports background failures; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.PollInterval <= 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.CatchUpBatch <= 0 {
		c.CatchUpBatch = 2000
	}
	if c.LiveBatch <= 0 {
		c.LiveBatch = 100
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Failure describes the event a projector is stuck on.
type Failure struct {
	Position  int64     `json:"position"`
	EventType string    `json:"event_type"`
	StreamID  string    `json:"stream_id"`
	Error     string    `json:"error"`
	Attempts  int       `json:"attempts"`
	Since     time.Time `json:"since"`
}

// Projector keeps one read model up to date from the event log.
type Projector struct {
	name    string
	pool    *pgxpool.Pool
	store   *eventstore.Store
	handler Handler
	cfg     Config

	mu       sync.Mutex
	failure  *Failure
	attempts map[int64]int
	running  bool
}

// New returns a projector named name that feeds handler from store.
func New(name string, store *eventstore.Store, handler Handler, cfg Config) *Projector {
	cfg.defaults()
	if cfg.Group == "" {
		cfg.Group = name
	}
	return &Projector{
		name: name, pool: store.Pool(), store: store, handler: handler, cfg: cfg,
		attempts: map[int64]int{},
	}
}

// Name returns the projector's name.
func (p *Projector) Name() string { return p.name }

// Group returns the consumer group that holds the projector's checkpoint.
func (p *Projector) Group() string { return p.cfg.Group }

// Failure returns the event the projector is stuck on, or nil.
func (p *Projector) Failure() *Failure {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failure == nil {
		return nil
	}
	f := *p.failure
	return &f
}

// Running reports whether Run is active.
func (p *Projector) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// Run applies events until ctx is done. It catches up in large batches, then
// follows the log through a watermill-sql subscriber. An event whose handler
// keeps failing stops the projector on that event until it succeeds; it is
// never skipped.
func (p *Projector) Run(ctx context.Context) error {
	p.mu.Lock()
	p.running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running = false
		p.mu.Unlock()
	}()

	if _, err := p.pool.Exec(ctx, query("ensure_group"), p.cfg.Group); err != nil {
		return fmt.Errorf("create checkpoint of %s: %w", p.name, err)
	}
	// Batches apply a backlog with a few statements per batch; the
	// subscriber applies events one by one as they come. The projector
	// batches while at least a live batch's worth of events is waiting and
	// follows the log through the subscriber otherwise.
	for ctx.Err() == nil {
		n, _, err := p.applyBatchTo(ctx, nil)
		if err != nil && ctx.Err() == nil && !isSerializationFailure(err) {
			// A failing batch is retried one event at a time by the live
			// path, which finds and reports the event that fails.
			p.cfg.Logger.Warn("projection batch failed", "projection", p.name, "error", err)
		}
		if err == nil && n >= p.cfg.LiveBatch {
			continue
		}
		if err := p.follow(ctx); err != nil && ctx.Err() == nil {
			p.cfg.Logger.Error("projection subscriber failed", "projection", p.name, "error", err)
			sleep(ctx, p.cfg.RetryDelay)
		}
		if p.Failure() != nil {
			sleep(ctx, p.cfg.RetryDelay)
		}
	}
	return nil
}

// CatchUp applies batches until the projector has reached the head of the
// log as it stood when called, and returns how many events it applied.
func (p *Projector) CatchUp(ctx context.Context) (int, error) {
	return p.CatchUpTo(ctx, nil, nil)
}

// CatchUpTo applies batches until nothing is left or, when upTo is set,
// until the checkpoint reaches upTo. progress, when set, is called after
// every batch with the number of events it applied.
func (p *Projector) CatchUpTo(ctx context.Context, upTo *eventstore.Cursor, progress func(int)) (int, error) {
	if _, err := p.pool.Exec(ctx, query("ensure_group"), p.cfg.Group); err != nil {
		return 0, fmt.Errorf("create checkpoint of %s: %w", p.name, err)
	}
	total := 0
	for {
		n, full, err := p.applyBatchTo(ctx, upTo)
		total += n
		if progress != nil && n > 0 {
			progress(n)
		}
		if err != nil || !full {
			return total, err
		}
	}
}

// applyBatchTo reads the next batch after the checkpoint, applies it and
// moves the checkpoint, all in one REPEATABLE READ transaction. Events after
// upTo, when set, are left alone. It reports how many events it applied and
// whether more may be waiting.
func (p *Projector) applyBatchTo(ctx context.Context, upTo *eventstore.Cursor) (int, bool, error) {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, false, fmt.Errorf("begin batch of %s: %w", p.name, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	adapter := eventstore.SchemaAdapter{BatchSize: p.cfg.CatchUpBatch}
	offsets := eventstore.OffsetsAdapter()
	sel, err := adapter.SelectQuery(wsql.SelectQueryParams{
		Topic: eventstore.Topic, ConsumerGroup: p.cfg.Group, OffsetsAdapter: offsets,
	})
	if err != nil {
		return 0, false, err
	}
	rows, err := tx.Query(ctx, sel.Query, sel.Args...)
	if err != nil {
		return 0, false, fmt.Errorf("read batch of %s: %w", p.name, err)
	}
	events, err := p.collect(rows)
	if err != nil || len(events) == 0 {
		return 0, false, err
	}
	full := len(events) >= p.cfg.CatchUpBatch
	if upTo != nil {
		for i, e := range events {
			if (eventstore.Cursor{TransactionID: e.TransactionID, Position: e.Position}).After(*upTo) {
				events, full = events[:i], false
				break
			}
		}
		if len(events) == 0 {
			return 0, false, nil
		}
	}

	if err := p.handler.Apply(ctx, tx, events); err != nil {
		p.cfg.Metrics.handlerError(p.name)
		return 0, false, fmt.Errorf("apply batch ending at %d: %w", events[len(events)-1].Position, err)
	}
	last := events[len(events)-1]
	ack, err := offsets.AckMessageQuery(wsql.AckMessageQueryParams{
		Topic:         eventstore.Topic,
		LastRow:       lastRow(last),
		ConsumerGroup: p.cfg.Group,
	})
	if err != nil {
		return 0, false, err
	}
	if _, err := tx.Exec(ctx, ack.Query, ack.Args...); err != nil {
		return 0, false, fmt.Errorf("move checkpoint of %s: %w", p.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("commit batch of %s: %w", p.name, err)
	}
	p.cfg.Metrics.applied(p.name, len(events))
	p.clearFailure()
	return len(events), full, nil
}

func lastRow(e eventstore.Event) wsql.Row {
	return wsql.Row{
		Offset:    e.Position,
		ExtraData: map[string]any{"transaction_id": fmt.Sprint(e.TransactionID)},
	}
}

func (p *Projector) collect(rows pgx.Rows) ([]eventstore.Event, error) {
	defer rows.Close()
	var events []eventstore.Event
	for rows.Next() {
		e, err := eventstore.ScanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("scan event for %s: %w", p.name, err)
		}
		if e, err = p.store.Upcast(e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// follow consumes the log through a watermill-sql subscriber until ctx is
// done, the projector falls far behind (then catch-up batches are faster),
// or an event keeps failing.
func (p *Projector) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(p.pool), wsql.SubscriberConfig{
		ConsumerGroup:  p.cfg.Group,
		PollInterval:   p.cfg.PollInterval,
		ResendInterval: p.cfg.RetryDelay,
		RetryInterval:  p.cfg.RetryDelay,
		SchemaAdapter:  eventstore.SchemaAdapter{BatchSize: p.cfg.LiveBatch},
		OffsetsAdapter: eventstore.OffsetsAdapter(),
	}, watermill.NopLogger{})
	if err != nil {
		return fmt.Errorf("create subscriber for %s: %w", p.name, err)
	}
	// The subscription gets a context of its own: cancelling the projector's
	// must not roll back a transaction while an event is being applied in
	// it. Leaving this function closes the subscriber, which commits what was
	// acked and stops.
	subCtx, cancelSub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSub()
	defer sub.Close()
	messages, err := sub.Subscribe(subCtx, eventstore.Topic)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", p.name, err)
	}
	behind := time.NewTicker(max(4*p.cfg.PollInterval, 100*time.Millisecond))
	defer behind.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-behind.C:
			if p.farBehind(ctx) {
				return nil
			}
		case msg, ok := <-messages:
			if !ok {
				return nil
			}
			if stop := p.handleMessage(msg); stop {
				// Closing the subscriber before this event is acked makes it
				// commit what it acked so far and leave this event unapplied.
				_ = sub.Close()
				return nil
			}
		}
	}
}

// farBehind reports whether enough events are waiting that a batch would
// apply them faster than the subscriber.
func (p *Projector) farBehind(ctx context.Context) bool {
	var waiting int
	limit := 2 * p.cfg.LiveBatch
	err := p.pool.QueryRow(ctx, query("waiting"), p.cfg.Group, limit).Scan(&waiting)
	return err == nil && waiting >= limit
}

// isSerializationFailure reports a conflict with another instance of the
// same consumer group, which simply tries again.
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}
