package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/domain"
)

// Order is an order as the read model serves it.
type Order struct {
	ID            string           `json:"id"`
	BusinessID    string           `json:"business_id"`
	CustomerID    string           `json:"customer_id"`
	Status        string           `json:"status"`
	Fulfillment   string           `json:"fulfillment"`
	PaymentMethod string           `json:"payment_method"`
	Paid          bool             `json:"paid"`
	PaymentStatus *string          `json:"payment_status"`
	Address       *domain.Address  `json:"address"`
	Lines         []domain.Line    `json:"lines"`
	Note          string           `json:"note"`
	Discount      *domain.Discount `json:"discount_rule"`
	Subtotal      domain.Money     `json:"subtotal"`
	DeliveryFee   domain.Money     `json:"delivery_fee"`
	DiscountTotal domain.Money     `json:"discount"`
	Total         domain.Money     `json:"total"`
	Refunded      domain.Money     `json:"refunded"`
	Version       int64            `json:"version"`
	Position      int64            `json:"position"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

// Message is a message posted on an order.
type Message struct {
	ID         string         `json:"id"`
	OrderID    string         `json:"order_id"`
	AuthorID   string         `json:"author_id"`
	AuthorRole string         `json:"author_role"`
	Text       string         `json:"text"`
	Metadata   map[string]any `json:"metadata"`
	Position   int64          `json:"position"`
	CreatedAt  time.Time      `json:"created_at"`
}

// Day is one business day of the daily sales report.
type Day struct {
	Day           string       `json:"day"`
	Orders        int64        `json:"orders"`
	Completed     int64        `json:"completed"`
	Cancellations int64        `json:"cancellations"`
	Revenue       domain.Money `json:"revenue"`
}

// ErrNotFound is returned for an order the read model does not hold.
var ErrNotFound = errors.New("orders: not found")

// Reader answers order queries from the read tables.
type Reader struct{ pool *pgxpool.Pool }

// NewReader returns a Reader on pool.
func NewReader(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool} }

func scanOrder(s pgx.Row) (Order, error) {
	var (
		o                 Order
		r                 row
		address, discount *string
	)
	err := s.Scan(&r.ID, &r.BusinessID, &r.CustomerID, &r.Status, &r.Fulfillment, &r.PaymentMethod,
		&r.Paid, &r.PaymentStatus, &address, &r.Lines, &r.Note, &discount, &r.Currency, &r.Subtotal,
		&r.DeliveryFee, &r.DiscountAmount, &r.Total, &r.Refunded, &r.PlacedDay, &r.Version,
		&r.Position, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return Order{}, err
	}
	cur := domain.Currency(r.Currency)
	o = Order{ID: r.ID, BusinessID: r.BusinessID, CustomerID: r.CustomerID, Status: r.Status,
		Fulfillment: r.Fulfillment, PaymentMethod: r.PaymentMethod, Paid: r.Paid,
		PaymentStatus: r.PaymentStatus, Note: r.Note,
		Subtotal: domain.Money{Amount: r.Subtotal, Currency: cur}, DeliveryFee: domain.Money{
			Amount: r.DeliveryFee, Currency: cur}, DiscountTotal: domain.Money{Amount: r.DiscountAmount,
			Currency: cur}, Total: domain.Money{Amount: r.Total, Currency: cur},
		Refunded: domain.Money{Amount: r.Refunded, Currency: cur},
		Version:  r.Version, Position: r.Position, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal([]byte(r.Lines), &o.Lines); err != nil {
		return Order{}, fmt.Errorf("decode lines of order %s: %w", r.ID, err)
	}
	if address != nil {
		o.Address = &domain.Address{}
		if err := json.Unmarshal([]byte(*address), o.Address); err != nil {
			return Order{}, err
		}
	}
	if discount != nil {
		o.Discount = &domain.Discount{}
		if err := json.Unmarshal([]byte(*discount), o.Discount); err != nil {
			return Order{}, err
		}
	}
	return o, nil
}

// Get returns one order.
func (r *Reader) Get(ctx context.Context, id uuid.UUID) (Order, error) {
	o, err := scanOrder(r.pool.QueryRow(ctx, query("get"), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	return o, err
}

// Filter narrows an order list. Nil fields do not filter.
type Filter struct {
	Business, Customer *uuid.UUID
	Status             *string
	From, To           *time.Time
	// After is the (created_at, id) of the last order of the previous page.
	AfterAt *time.Time
	AfterID uuid.UUID
	Limit   int
}

// List returns orders newest first.
func (r *Reader) List(ctx context.Context, f Filter) ([]Order, error) {
	rows, err := r.pool.Query(ctx, query("list"), f.AfterAt, f.AfterID, f.Business, f.Customer,
		f.Status, f.From, f.To, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) {
		return scanOrder(row)
	})
}

// Messages returns an order's messages after a position, oldest first.
func (r *Reader) Messages(ctx context.Context, order uuid.UUID, after int64, limit int) ([]Message, error) {
	rows, err := r.pool.Query(ctx, query("messages"), order, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	// The query's columns are Message's fields, in order.
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Message])
}

// Daily returns a business's sales per day from from to to, inclusive.
func (r *Reader) Daily(ctx context.Context, business uuid.UUID, from, to time.Time) ([]Day, error) {
	rows, err := r.pool.Query(ctx, query("daily"), business, from, to)
	if err != nil {
		return nil, fmt.Errorf("read daily sales: %w", err)
	}
	defer rows.Close()
	out := []Day{}
	for rows.Next() {
		var (
			d   Day
			day time.Time
			cur string
		)
		if err := rows.Scan(&day, &cur, &d.Orders, &d.Completed, &d.Cancellations, &d.Revenue.Amount); err != nil {
			return nil, err
		}
		d.Day, d.Revenue.Currency = day.Format(time.DateOnly), domain.Currency(cur)
		out = append(out, d)
	}
	return out, rows.Err()
}

// StatusCounts returns how many orders are in each status.
func (r *Reader) StatusCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := r.pool.Query(ctx, query("status_counts"))
	if err != nil {
		return nil, err
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
