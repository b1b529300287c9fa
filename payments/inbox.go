package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
)

// InboxTopic is the watermill topic of the inbox; its table is payment_inbox.
const InboxTopic = "payment_inbox"

// Message metadata keys that carry a notification's columns to the inbox.
const (
	metaPaymentID      = "payment_id"
	metaAction         = "action"
	metaNotificationID = "notification_id"
	metaRequestID      = "request_id"
	metaReceivedAt     = "received_at"
)

// Notification is a verified MercadoPago webhook about a payment.
type Notification struct {
	// PaymentID is data.id: the payment to read again.
	PaymentID string `json:"payment_id"`
	// Action is what happened, such as "payment.created".
	Action string `json:"action"`
	// NotificationID is the notification's own id from its body, which
	// MercadoPago keeps when it retries a delivery; the request id when the
	// body has none.
	NotificationID string `json:"notification_id"`
	// RequestID is the x-request-id header, signed with the notification.
	RequestID  string    `json:"request_id,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// Enqueue stores a notification in the inbox and wakes a worker. A repeated
// delivery (the same payment, action and notification id, or the same
// x-request-id) is stored once: Enqueue then reports duplicate and stores
// nothing.
func (s *Service) Enqueue(ctx context.Context, n Notification) (duplicate bool, err error) {
	if n.ReceivedAt.IsZero() {
		n.ReceivedAt = s.cfg.Now()
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return false, fmt.Errorf("encode notification: %w", err)
	}
	msg := message.NewMessage(s.cfg.NewID().String(), payload)
	msg.Metadata.Set(metaPaymentID, n.PaymentID)
	msg.Metadata.Set(metaAction, n.Action)
	msg.Metadata.Set(metaNotificationID, n.NotificationID)
	msg.Metadata.Set(metaRequestID, n.RequestID)
	msg.Metadata.Set(metaReceivedAt, n.ReceivedAt.UTC().Format(time.RFC3339Nano))
	msg.SetContext(ctx)

	err = s.inbox.Publish(InboxTopic, msg)
	if isUniqueViolation(err, "payment_inbox_delivery_key") ||
		isUniqueViolation(err, "payment_inbox_request_key") {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("store notification about payment %s: %w", n.PaymentID, err)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return false, nil
}

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// inboxSchema is the watermill-sql schema adapter of the inbox: watermill's
// PostgreSQL queue schema on the payment_inbox table, whose insert also fills
// the deduplication columns from the message metadata. Migrations own the
// table, so schema initialisation does nothing.
type inboxSchema struct{ wsql.PostgreSQLQueueSchema }

var _ wsql.SchemaAdapter = inboxSchema{}

func newInboxSchema() inboxSchema {
	return inboxSchema{wsql.PostgreSQLQueueSchema{
		GenerateMessagesTableName: func(string) string { return "payment_inbox" },
		GeneratePayloadType:       func(string) string { return "JSONB" },
	}}
}

// SchemaInitializingQueries returns nothing: migrations own the schema.
func (inboxSchema) SchemaInitializingQueries(
	wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil
}

// InsertQuery stores one notification; a publish of several is refused, so
// each notification's duplicate check stands on its own.
func (inboxSchema) InsertQuery(params wsql.InsertQueryParams) (wsql.Query, error) {
	if len(params.Msgs) != 1 {
		return wsql.Query{}, fmt.Errorf("the payment inbox takes one notification per publish, not %d",
			len(params.Msgs))
	}
	m := params.Msgs[0]
	meta, err := json.Marshal(m.Metadata)
	if err != nil {
		return wsql.Query{}, fmt.Errorf("encode metadata of message %s: %w", m.UUID, err)
	}
	received, err := time.Parse(time.RFC3339Nano, m.Metadata.Get(metaReceivedAt))
	if err != nil {
		return wsql.Query{}, fmt.Errorf("message %s has no receiving time: %w", m.UUID, err)
	}
	var requestID *string
	if r := m.Metadata.Get(metaRequestID); r != "" {
		requestID = &r
	}
	return wsql.Query{Query: query("inbox_insert"), Args: []any{m.UUID, []byte(m.Payload), meta,
		m.Metadata.Get(metaPaymentID), m.Metadata.Get(metaAction),
		m.Metadata.Get(metaNotificationID), requestID, received}}, nil
}

// DeadLetter is a notification that failed every attempt.
type DeadLetter struct {
	ID             int64      `json:"id"`
	PaymentID      string     `json:"payment_id"`
	Action         string     `json:"action"`
	NotificationID string     `json:"notification_id"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error"`
	ReceivedAt     time.Time  `json:"received_at"`
	DeadAt         *time.Time `json:"dead_at"`
}

func scanDeadLetter(row pgx.Row) (DeadLetter, error) {
	var (
		d       DeadLetter
		lastErr *string
	)
	err := row.Scan(&d.ID, &d.PaymentID, &d.Action, &d.NotificationID, &d.Attempts, &lastErr,
		&d.ReceivedAt, &d.DeadAt)
	if lastErr != nil {
		d.LastError = *lastErr
	}
	return d, err
}

// DeadLetters lists dead letters newest first, before the id before (0: from
// the newest).
func (s *Service) DeadLetters(ctx context.Context, before int64, limit int) ([]DeadLetter, error) {
	var cursor *int64
	if before > 0 {
		cursor = &before
	}
	rows, err := s.pool.Query(ctx, query("dead_letters"), cursor, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeadLetter, error) {
		return scanDeadLetter(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	if out == nil {
		out = []DeadLetter{}
	}
	return out, nil
}

// ErrNoDeadLetter is returned by RetryDeadLetter for an id that is not a
// dead letter (unknown, processed, or already queued again).
var ErrNoDeadLetter = errors.New("payments: no such dead letter")

// RetryDeadLetter puts a dead letter back in the inbox, due now, with a fresh
// set of attempts.
func (s *Service) RetryDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	d, err := scanDeadLetter(s.pool.QueryRow(ctx, query("dead_letter_retry"), id, s.cfg.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return DeadLetter{}, ErrNoDeadLetter
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("retry dead letter %d: %w", id, err)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return d, nil
}

// InboxCounts returns how many notifications wait to be processed and how
// many are dead letters.
func (s *Service) InboxCounts(ctx context.Context) (backlog, dead int64, err error) {
	err = s.pool.QueryRow(ctx, query("inbox_counts")).Scan(&backlog, &dead)
	if err != nil {
		return 0, 0, fmt.Errorf("count inbox: %w", err)
	}
	return backlog, dead, nil
}

// inboxCollector reports the inbox gauges at scrape time.
type inboxCollector struct {
	s             *Service
	backlog, dead *prometheus.Desc
}

// Collector returns a prometheus collector of the payment_inbox_backlog and
// payment_dead_letters gauges, read from the inbox at scrape time.
func (s *Service) Collector() prometheus.Collector {
	return &inboxCollector{s: s,
		backlog: prometheus.NewDesc("payment_inbox_backlog",
			"Payment notifications accepted and not yet processed.", nil, nil),
		dead: prometheus.NewDesc("payment_dead_letters",
			"Payment notifications that failed every attempt and wait for an admin.", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c *inboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.backlog
	ch <- c.dead
}

// Collect implements prometheus.Collector.
func (c *inboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	backlog, dead, err := c.s.InboxCounts(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(dead))
}
