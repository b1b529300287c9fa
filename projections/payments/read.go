package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"comanda/domain"
)

// Payment is a MercadoPago payment as the read model serves it.
type Payment struct {
	ID           string       `json:"id"`
	OrderID      string       `json:"order_id"`
	BusinessID   string       `json:"business_id"`
	CustomerID   string       `json:"customer_id"`
	Status       string       `json:"status"`
	StatusDetail string       `json:"status_detail"`
	Amount       domain.Money `json:"amount"`
	Refunded     domain.Money `json:"refunded"`
	// PaidOrder is true for the payment that paid its order.
	PaidOrder bool `json:"paid_order"`
	// Review names why an admin must look at the payment, or is null.
	Review *string `json:"review"`
	// Expected is the order's total when the payment's amount did not match.
	Expected  *domain.Money `json:"expected"`
	Position  int64         `json:"position"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	// History lists every status recorded, oldest first; only Get fills it.
	History []Status `json:"history,omitempty"`

	firstPosition int64
}

// Cursor is the paging key of a payment in a list.
func (p Payment) Cursor() int64 { return p.firstPosition }

// Status is one recorded status of a payment.
type Status struct {
	Status       string       `json:"status"`
	StatusDetail string       `json:"status_detail"`
	Amount       domain.Money `json:"amount"`
	Refunded     domain.Money `json:"refunded"`
	Position     int64        `json:"position"`
	RecordedAt   time.Time    `json:"recorded_at"`
}

// ErrNotFound is returned by Get for a payment the read model does not hold.
var ErrNotFound = errors.New("payments: not found")

// Reader answers payment queries from the read tables.
type Reader struct{ pool *pgxpool.Pool }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

func scanPayment(s pgx.Row) (Payment, error) {
	var (
		p                Payment
		cur              string
		expAmount        *int64
		expCurrency      *string
		amount, refunded int64
	)
	err := s.Scan(&p.ID, &p.OrderID, &p.BusinessID, &p.CustomerID, &p.Status, &p.StatusDetail,
		&cur, &amount, &refunded, &p.PaidOrder, &p.Review, &expAmount, &expCurrency,
		&p.firstPosition, &p.Position, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return Payment{}, err
	}
	p.Amount = domain.Money{Amount: amount, Currency: domain.Currency(cur)}
	p.Refunded = domain.Money{Amount: refunded, Currency: domain.Currency(cur)}
	if expAmount != nil && expCurrency != nil {
		p.Expected = &domain.Money{Amount: *expAmount, Currency: domain.Currency(*expCurrency)}
	}
	return p, nil
}

// Get returns one payment with its status history.
func (r *Reader) Get(ctx context.Context, id string) (Payment, error) {
	p, err := scanPayment(r.pool.QueryRow(ctx, query("get"), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("read payment %s: %w", id, err)
	}
	rows, err := r.pool.Query(ctx, query("history"), id)
	if err != nil {
		return Payment{}, fmt.Errorf("read history of payment %s: %w", id, err)
	}
	defer rows.Close()
	p.History = []Status{}
	for rows.Next() {
		var (
			s                Status
			cur              string
			amount, refunded int64
		)
		if err := rows.Scan(&s.Status, &s.StatusDetail, &amount, &cur, &refunded, &s.Position,
			&s.RecordedAt); err != nil {
			return Payment{}, err
		}
		s.Amount = domain.Money{Amount: amount, Currency: domain.Currency(cur)}
		s.Refunded = domain.Money{Amount: refunded, Currency: domain.Currency(cur)}
		p.History = append(p.History, s)
	}
	return p, rows.Err()
}

// Filter narrows a payment list. Nil fields do not filter.
type Filter struct {
	Order, Business, Customer *uuid.UUID
	Status                    *string
	// NeedsReview keeps only payments an admin must look at.
	NeedsReview bool
	// Before is the cursor of the last payment of the previous page.
	Before *int64
	Limit  int
}

// List returns payments newest first.
func (r *Reader) List(ctx context.Context, f Filter) ([]Payment, error) {
	rows, err := r.pool.Query(ctx, query("list"), f.Before, f.Order, f.Business, f.Customer,
		f.Status, f.NeedsReview, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Payment, error) {
		return scanPayment(row)
	})
}

// UnpaidCheckouts returns orders with a checkout started between from and
// until that are neither paid nor cancelled, oldest checkout first.
func (r *Reader) UnpaidCheckouts(ctx context.Context, from, until time.Time,
	limit int) ([]string, error) {
	return r.orderIDs(ctx, query("unpaid_checkouts"), until, from, limit)
}

// RefundsOwed returns cancelled orders paid through MercadoPago whose full
// refund was not accepted yet.
func (r *Reader) RefundsOwed(ctx context.Context, limit int) ([]string, error) {
	return r.orderIDs(ctx, query("refunds_owed"), limit)
}

func (r *Reader) orderIDs(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := r.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("find orders to reconcile: %w", err)
	}
	ids, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		var id uuid.UUID
		err := row.Scan(&id)
		return id.String(), err
	})
	if err != nil {
		return nil, fmt.Errorf("find orders to reconcile: %w", err)
	}
	return ids, nil
}

// StatusCounts returns how many payments are in each status.
func (r *Reader) StatusCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := r.pool.Query(ctx, query("status_counts"))
	if err != nil {
		return nil, fmt.Errorf("count payments by status: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			s string
			n int64
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// statusCollector reports how many payments are in each status at scrape
// time.
type statusCollector struct {
	r    *Reader
	desc *prometheus.Desc
}

// Collector returns a prometheus collector of the payments_by_status gauge,
// read from the table at scrape time. Every known status is reported, at 0
// when no payment is in it.
func (r *Reader) Collector() prometheus.Collector {
	return &statusCollector{r: r, desc: prometheus.NewDesc("payments_by_status",
		"MercadoPago payments in each status, from the payments read model.", []string{"status"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.r.StatusCounts(ctx)
	if err != nil {
		return
	}
	for _, s := range []string{domain.PaymentPending, domain.PaymentApproved,
		domain.PaymentAuthorized, domain.PaymentInProcess, domain.PaymentInMediation,
		domain.PaymentRejected, domain.PaymentCancelled, domain.PaymentRefunded,
		domain.PaymentChargedBack} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), s)
		delete(counts, s)
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), s)
	}
}
