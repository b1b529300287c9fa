// Package payments connects orders to MercadoPago: it opens checkouts,
// records payments as MercadoPago reports them, asks for refunds, keeps the
// inbox of webhook notifications with the worker that processes them, and
// reconciles orders whose notifications never came.
//
// The rules (what a payment status means for an order, what may be refunded)
// live in the domain package; this package loads an order's stream, asks the
// domain, calls MercadoPago through package mercadopago and appends the
// resulting events to the order's stream. It does not serve HTTP: the
// httpapi package does, and calls it.
package payments

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/internal/sqlfile"
	"comanda/mercadopago"
	readmodel "comanda/projections/payments"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// SystemActor names MercadoPago's own news (webhooks, reconciliation) in the
// metadata of the events it causes.
const SystemActor = "system:mercadopago"

// Config tunes the service. Zero values take the defaults noted.
type Config struct {
	// NotificationURL is where MercadoPago posts payment webhooks; every
	// checkout carries it.
	NotificationURL string
	// BackURLs are where MercadoPago sends the buyer after the checkout.
	BackURLs mercadopago.BackURLs
	// MaxAttempts is how often a notification is tried before it becomes a
	// dead letter; 8 by default.
	MaxAttempts int
	// Backoff is the wait after a notification's first failed attempt; it
	// doubles after each one, up to MaxBackoff. 2s and 5m by default.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Workers is how many notifications are processed at once; 2 by default.
	Workers int
	// PollInterval is how often an idle worker looks for due notifications,
	// for those written by other engines or scheduled for a retry; 500ms by
	// default.
	PollInterval time.Duration
	// Lease is how long a claimed notification stays claimed; a worker that
	// dies mid-attempt gives it up when the lease ends. 2m by default.
	Lease time.Duration
	// Retention is how long processed notifications are kept, and so how long
	// a repeated delivery is recognised; 30 days by default.
	Retention time.Duration
	// ReconcileAfter is how old an unpaid checkout must be before
	// reconciliation asks MercadoPago about it; 15m by default.
	ReconcileAfter time.Duration
	// ReconcileLookback bounds how old a checkout reconciliation still asks
	// about; 30 days by default.
	ReconcileLookback time.Duration
	// Now and NewID are injected so tests can be deterministic.
	Now   func() time.Time
	NewID func() uuid.UUID
	// Logger reports background failures; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Backoff <= 0 {
		c.Backoff = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.Lease <= 0 {
		c.Lease = 2 * time.Minute
	}
	if c.Retention <= 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.ReconcileAfter <= 0 {
		c.ReconcileAfter = 15 * time.Minute
	}
	if c.ReconcileLookback <= 0 {
		c.ReconcileLookback = 30 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.New
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Deps are the parts the service is built from.
type Deps struct {
	Store       *eventstore.Store
	MercadoPago *mercadopago.Client
	// Reader is the payments read model, which reconciliation reads.
	Reader *readmodel.Reader
	// BusinessOwner returns the id of a business's owner, "" when there is no
	// such business; the catalog supplies it.
	BusinessOwner func(ctx context.Context, businessID string) (string, error)
}

// Service is the engine's payment processing. It is safe for concurrent use.
type Service struct {
	cfg   Config
	deps  Deps
	pool  *pgxpool.Pool
	inbox *wsql.Publisher
	wake  chan struct{}
	log   *slog.Logger
}

// New returns a service on deps.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.MercadoPago == nil || deps.Reader == nil || deps.BusinessOwner == nil {
		return nil, errors.New("payments: New needs a store, a MercadoPago client, the read model " +
			"and a business owner lookup")
	}
	cfg.defaults()
	pool := deps.Store.Pool()
	pub, err := wsql.NewPublisher(wsql.BeginnerFromPgx(pool), wsql.PublisherConfig{
		SchemaAdapter: newInboxSchema(), AutoInitializeSchema: false,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("payments: create inbox publisher: %w", err)
	}
	return &Service{cfg: cfg, deps: deps, pool: pool, inbox: pub, wake: make(chan struct{}, 1),
		log: cfg.Logger}, nil
}

// Origin says who or what caused a change, for the metadata of the events
// it appends.
type Origin struct {
	// Actor is "role:id", or SystemActor.
	Actor string
	// Role is the caller's role, recorded on refunds; empty for the system.
	Role domain.Role
	// CorrelationID ties the events to a request or a notification.
	CorrelationID string
	// CausationID names what caused them, such as an idempotency key.
	CausationID string
}

// ErrUnknownOrder is returned by Record for a payment whose external
// reference names no order of this engine.
var ErrUnknownOrder = errors.New("payments: the payment's external reference is no order of ours")

// maxDecideRetries bounds how often a decision is made again after another
// writer moved the order's stream first.
const maxDecideRetries = 5

func notFound() error { return domain.Errorf(domain.CodeNotFound, "no such order") }

// load folds an order's stream into a payable order and returns the stream's
// version; a missing order is a not_found error.
func (s *Service) load(ctx context.Context, orderID string) (*domain.PayableOrder, int64, error) {
	if _, err := uuid.Parse(orderID); err != nil {
		return nil, 0, notFound()
	}
	events, err := s.deps.Store.ReadStream(ctx, orderID, 1)
	if err != nil {
		return nil, 0, err
	}
	if len(events) == 0 || events[0].StreamType != domain.StreamOrder {
		return nil, 0, notFound()
	}
	o := &domain.PayableOrder{}
	var version int64
	for _, e := range events {
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return nil, 0, fmt.Errorf("fold event %d of order %s: %w", e.Position, orderID, err)
		}
		o.Apply(de)
		version = e.Version
	}
	return o, version, nil
}

// owner returns the id of the owner of the order's business.
func (s *Service) owner(ctx context.Context, o *domain.PayableOrder) (string, error) {
	return s.deps.BusinessOwner(ctx, o.BusinessID)
}

// appendEvents appends events to the order's stream at version expected.
// Event ids derive from key, so the same decision appended twice is stored
// once; an empty key gives fresh ids.
func (s *Service) appendEvents(ctx context.Context, orderID string, expected int64, key string,
	org Origin, events ...domain.Event) (eventstore.AppendResult, error) {
	now := s.cfg.Now().UTC()
	out := make([]eventstore.NewEvent, len(events))
	for i, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("encode %s: %w", e.EventType(), err)
		}
		id := s.cfg.NewID()
		if key != "" {
			id = eventstore.NewEventID(orderID+"/"+key, i)
		}
		out[i] = eventstore.NewEvent{Type: e.EventType(), Payload: payload,
			Metadata: eventstore.Metadata{EventID: id, CorrelationID: org.CorrelationID,
				CausationID: org.CausationID, Actor: org.Actor, OccurredAt: now}}
	}
	return s.deps.Store.Append(ctx, eventstore.Stream{Type: domain.StreamOrder, ID: orderID},
		eventstore.Exact(expected), out...)
}

// Recorded is what Record did.
type Recorded struct {
	OrderID string
	// Events are the types of the events appended; none when the report
	// changed nothing.
	Events   []string
	Position int64
}

// Record records payment p, as MercadoPago reports it now, on the order its
// external reference names. It is idempotent and safe to call concurrently:
// a report that changes nothing, or is older than what was recorded, appends
// nothing. A payment for no order of ours returns ErrUnknownOrder.
func (s *Service) Record(ctx context.Context, p mercadopago.Payment, org Origin) (Recorded, error) {
	report := domain.PaymentReport{ID: p.ID, Status: string(p.Status), StatusDetail: p.StatusDetail,
		Amount:   domain.Money{Amount: p.Amount, Currency: domain.Currency(p.Currency)},
		Refunded: p.RefundedAmount}
	for attempt := 0; ; attempt++ {
		o, version, err := s.load(ctx, p.ExternalReference)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			return Recorded{}, fmt.Errorf("record payment %s for %q: %w", p.ID, p.ExternalReference,
				ErrUnknownOrder)
		}
		if err != nil {
			return Recorded{}, err
		}
		events := o.RecordPayment(report)
		out := Recorded{OrderID: o.ID, Events: []string{}}
		if len(events) == 0 {
			return out, nil
		}
		key := "payment/" + p.ID + "/v" + strconv.FormatInt(version, 10)
		res, err := s.appendEvents(ctx, o.ID, version, key, org, events...)
		if errors.Is(err, eventstore.ErrConcurrency) && attempt < maxDecideRetries {
			continue
		}
		if err != nil {
			return Recorded{}, fmt.Errorf("record payment %s on order %s: %w", p.ID, o.ID, err)
		}
		for _, e := range events {
			out.Events = append(out.Events, e.EventType())
		}
		out.Position = res.Position
		return out, nil
	}
}

// idempotencySpace names the keys sent to MercadoPago.
var idempotencySpace = uuid.MustParse("5d0e9a3c-2f8b-4c61-9e57-0b7f3a1c6d42")

// withIdempotencyKey makes the MercadoPago calls made with the returned
// context carry a key derived from key: a UUID, whatever key's length, that
// is the same every time key is.
func withIdempotencyKey(ctx context.Context, key string) context.Context {
	return mercadopago.WithIdempotencyKey(ctx, uuid.NewSHA1(idempotencySpace, []byte(key)).String())
}

// upstreamError turns a failed MercadoPago call made for an API client into
// the engine's error, saying what failed without MercadoPago's own words.
func upstreamError(action string, err error) error {
	if errors.Is(err, mercadopago.ErrInvalidInput) {
		return &domain.Error{Code: domain.CodeConflict, Err: err,
			Message: "MercadoPago cannot " + action + " with these amounts"}
	}
	if mercadopago.IsTransient(err) {
		return &domain.Error{Code: domain.CodeBadGateway, Err: err,
			Message: "MercadoPago did not answer in time; try again"}
	}
	details := map[string]any{}
	var mpErr *mercadopago.Error
	if errors.As(err, &mpErr) && mpErr.StatusCode > 0 {
		details["upstream_status"] = mpErr.StatusCode
	}
	return &domain.Error{Code: domain.CodeBadGateway, Err: err, Details: details,
		Message: "MercadoPago refused to " + action}
}
