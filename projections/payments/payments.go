// Package payments is the payments read model: the payment_orders,
// payments and payment_history tables, kept by a projection of the order
// streams, and the queries that read them. It serves the payment routes,
// the admins' review list, reconciliation and the payments_by_status gauge.
//
// It is not where payments are decided: the domain package decides which
// events a MercadoPago payment produces, and package payments at the root of
// the module talks to MercadoPago.
package payments

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/internal/sqlfile"
	"comanda/projections"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// query returns the text of one of the package's embedded SQL files.
var query = sqlfile.Loader(queryFiles)

// Name is the projection's name.
const Name = "payments"

// Definition describes the payments read model for the projection manager.
func Definition() projections.Definition {
	return projections.Definition{
		Name: Name,
		Tables: []projections.Table{
			{Name: "payment_orders", Key: []string{"order_id"}},
			{Name: "payments", Key: []string{"payment_id"}},
			{Name: "payment_history", Key: []string{"payment_id", "position"}},
		},
		Schema:     query("schema"),
		NewHandler: func(t projections.Tables) projections.Handler { return NewHandler(t) },
	}
}

// Handler is the payments projection for one version of its tables.
type Handler struct {
	loadOrders, loadPayments, upsertOrder, upsertPayment, history string
}

// NewHandler returns the projection writing to tables t.
func NewHandler(t projections.Tables) *Handler {
	return &Handler{
		loadOrders: t.Expand(query("load_orders")), loadPayments: t.Expand(query("load_payments")),
		upsertOrder: t.Expand(query("upsert_order")), upsertPayment: t.Expand(query("upsert_payment")),
		history: t.Expand(query("history_insert")),
	}
}

// orderRow is one row of payment_orders.
type orderRow struct {
	OrderID, BusinessID, CustomerID string
	Status, Currency                string
	Total, PaidAmount, Refunded     int64
	PaidBy, PreferenceID            *string
	ChargedBack, CancelRefund       bool
	Attempts                        int
	CheckoutAt                      *time.Time
	Position                        int64
	UpdatedAt                       time.Time
}

// paymentRow is one row of payments.
type paymentRow struct {
	ID, OrderID, BusinessID, CustomerID string
	Status, Detail, Currency            string
	Amount, Refunded                    int64
	PaidOrder                           bool
	Review, ExpectedCurrency            *string
	ExpectedAmount                      *int64
	FirstPosition, Position             int64
	CreatedAt, UpdatedAt                time.Time
}

// historyRow is one row of payment_history.
type historyRow struct {
	PaymentID, Status, Detail, Currency string
	Amount, Refunded, Position          int64
	At                                  time.Time
}

// batch is the state of one Apply call.
type batch struct {
	orders   map[string]*orderRow
	payments map[string]*paymentRow
	dirtyO   []string
	dirtyP   []string
	isDirty  map[string]bool
	history  []historyRow
}

func (b *batch) touchOrder(r *orderRow) {
	if !b.isDirty["o:"+r.OrderID] {
		b.isDirty["o:"+r.OrderID] = true
		b.dirtyO = append(b.dirtyO, r.OrderID)
	}
}

func (b *batch) touchPayment(r *paymentRow) {
	if !b.isDirty["p:"+r.ID] {
		b.isDirty["p:"+r.ID] = true
		b.dirtyP = append(b.dirtyP, r.ID)
	}
}

// Handles reports that only order streams, which carry the payment events,
// matter here.
func (h *Handler) Handles(streamType string) bool { return streamType == domain.StreamOrder }

// Apply folds a batch of events into the read tables: one query loads the
// orders it touches, one the payments, and one pipelined batch writes them.
// Orders not paid through MercadoPago are skipped.
func (h *Handler) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	b := &batch{orders: map[string]*orderRow{}, payments: map[string]*paymentRow{},
		isDirty: map[string]bool{}}
	decoded := make([]domain.Event, len(events))
	var orderIDs, paymentIDs []string
	for i, e := range events {
		if e.StreamType != domain.StreamOrder {
			continue
		}
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return fmt.Errorf("payments: event %d: %w", e.Position, err)
		}
		decoded[i] = de
		if _, placed := de.(*domain.OrderPlaced); !placed {
			if _, seen := b.orders[e.StreamID]; !seen {
				orderIDs = append(orderIDs, e.StreamID)
				b.orders[e.StreamID] = nil
			}
		}
		if id := paymentOf(de); id != "" {
			if _, seen := b.payments[id]; !seen {
				paymentIDs = append(paymentIDs, id)
				b.payments[id] = nil
			}
		}
	}
	if err := h.load(ctx, tx, b, orderIDs, paymentIDs); err != nil {
		return err
	}
	for i, de := range decoded {
		if de != nil {
			b.apply(events[i], de)
		}
	}
	return h.write(ctx, tx, b)
}

// paymentOf returns the payment an event is about, or "".
func paymentOf(de domain.Event) string {
	switch ev := de.(type) {
	case *domain.PaymentStatusRecorded:
		return ev.PaymentID
	case *domain.OrderPaid:
		return ev.PaymentID
	case *domain.PaymentAmountMismatch:
		return ev.PaymentID
	case *domain.PaymentUnexpected:
		return ev.PaymentID
	}
	return ""
}

func (h *Handler) load(ctx context.Context, tx pgx.Tx, b *batch, orderIDs, paymentIDs []string) error {
	if len(orderIDs) > 0 {
		if err := h.scanOrders(ctx, tx, b, orderIDs); err != nil {
			return err
		}
	}
	if len(paymentIDs) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, h.loadPayments, paymentIDs)
	if err != nil {
		return fmt.Errorf("payments: load payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r paymentRow
		if err := rows.Scan(&r.ID, &r.OrderID, &r.BusinessID, &r.CustomerID, &r.Status, &r.Detail,
			&r.Currency, &r.Amount, &r.Refunded, &r.PaidOrder, &r.Review, &r.ExpectedAmount,
			&r.ExpectedCurrency, &r.FirstPosition, &r.Position, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return fmt.Errorf("payments: load payments: %w", err)
		}
		b.payments[r.ID] = &r
	}
	return rows.Err()
}

func (h *Handler) scanOrders(ctx context.Context, tx pgx.Tx, b *batch, ids []string) error {
	rows, err := tx.Query(ctx, h.loadOrders, ids)
	if err != nil {
		return fmt.Errorf("payments: load orders: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r orderRow
		if err := rows.Scan(&r.OrderID, &r.BusinessID, &r.CustomerID, &r.Status, &r.Currency,
			&r.Total, &r.PaidBy, &r.PaidAmount, &r.Refunded, &r.ChargedBack, &r.CancelRefund,
			&r.Attempts, &r.PreferenceID, &r.CheckoutAt, &r.Position, &r.UpdatedAt); err != nil {
			return fmt.Errorf("payments: load orders: %w", err)
		}
		b.orders[r.OrderID] = &r
	}
	return rows.Err()
}

// apply folds one event. Events of orders the table does not hold (orders
// paid in cash) change nothing.
func (b *batch) apply(e eventstore.Event, de domain.Event) {
	at := e.Metadata.OccurredAt
	if placed, ok := de.(*domain.OrderPlaced); ok {
		if placed.PaymentMethod != domain.PayMercadoPago {
			return
		}
		r := &orderRow{OrderID: placed.OrderID, BusinessID: placed.BusinessID,
			CustomerID: placed.CustomerID, Status: string(domain.StatusPlaced),
			Currency: string(placed.Totals.Total.Currency), Total: placed.Totals.Total.Amount}
		b.orders[placed.OrderID] = r
	}
	o := b.orders[e.StreamID]
	if o == nil {
		return
	}
	switch ev := de.(type) {
	case *domain.OrderUpdated:
		o.Total = ev.Totals.Total.Amount
	case *domain.OrderDiscountApplied:
		o.Total = ev.Totals.Total.Amount
	case *domain.OrderStatusChanged:
		o.Status = string(ev.To)
	case *domain.PaymentCheckoutStarted:
		pref, started := ev.PreferenceID, at
		o.Attempts, o.PreferenceID, o.CheckoutAt = max(o.Attempts, ev.Attempt), &pref, &started
	case *domain.OrderPaid:
		id := ev.PaymentID
		o.PaidBy, o.PaidAmount = &id, ev.Amount.Amount
		if p := b.payments[ev.PaymentID]; p != nil {
			p.PaidOrder = true
			b.touchPayment(p)
		}
	case *domain.OrderRefunded:
		o.Refunded = ev.RefundedTotal.Amount
	case *domain.OrderChargedBack:
		o.ChargedBack = true
	case *domain.PaymentRefundRequested:
		if ev.Reason == domain.RefundOrderCancelled {
			o.CancelRefund = true
		}
	case *domain.PaymentStatusRecorded:
		b.recordStatus(e, o, ev)
	case *domain.PaymentAmountMismatch:
		b.review(ev.PaymentID, domain.ReviewAmountMismatch, &ev.Expected)
	case *domain.PaymentUnexpected:
		b.review(ev.PaymentID, ev.Reason, nil)
	}
	o.Position, o.UpdatedAt = e.Position, at
	b.touchOrder(o)
}

func (b *batch) recordStatus(e eventstore.Event, o *orderRow, ev *domain.PaymentStatusRecorded) {
	at := e.Metadata.OccurredAt
	p := b.payments[ev.PaymentID]
	if p == nil {
		p = &paymentRow{ID: ev.PaymentID, OrderID: o.OrderID, BusinessID: o.BusinessID,
			CustomerID: o.CustomerID, FirstPosition: e.Position, CreatedAt: at}
		b.payments[ev.PaymentID] = p
	}
	p.Status, p.Detail, p.Currency = ev.Status, ev.StatusDetail, string(ev.Amount.Currency)
	p.Amount, p.Refunded, p.Position, p.UpdatedAt = ev.Amount.Amount, ev.RefundedAmount.Amount,
		e.Position, at
	b.touchPayment(p)
	b.history = append(b.history, historyRow{PaymentID: ev.PaymentID, Status: ev.Status,
		Detail: ev.StatusDetail, Currency: string(ev.Amount.Currency), Amount: ev.Amount.Amount,
		Refunded: ev.RefundedAmount.Amount, Position: e.Position, At: at})
}

func (b *batch) review(paymentID, reason string, expected *domain.Money) {
	p := b.payments[paymentID]
	if p == nil {
		return
	}
	p.Review = &reason
	if expected != nil {
		amount, cur := expected.Amount, string(expected.Currency)
		p.ExpectedAmount, p.ExpectedCurrency = &amount, &cur
	}
	b.touchPayment(p)
}

func (h *Handler) write(ctx context.Context, tx pgx.Tx, b *batch) error {
	q := &pgx.Batch{}
	for _, id := range b.dirtyO {
		r := b.orders[id]
		q.Queue(h.upsertOrder, r.OrderID, r.BusinessID, r.CustomerID, r.Status, r.Currency, r.Total,
			r.PaidBy, r.PaidAmount, r.Refunded, r.ChargedBack, r.CancelRefund, r.Attempts,
			r.PreferenceID, r.CheckoutAt, r.Position, r.UpdatedAt)
	}
	for _, id := range b.dirtyP {
		r := b.payments[id]
		q.Queue(h.upsertPayment, r.ID, r.OrderID, r.BusinessID, r.CustomerID, r.Status, r.Detail,
			r.Currency, r.Amount, r.Refunded, r.PaidOrder, r.Review, r.ExpectedAmount,
			r.ExpectedCurrency, r.FirstPosition, r.Position, r.CreatedAt, r.UpdatedAt)
	}
	for _, r := range b.history {
		q.Queue(h.history, r.PaymentID, r.Position, r.Status, r.Detail, r.Amount, r.Currency,
			r.Refunded, r.At)
	}
	if q.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, q).Close(); err != nil {
		return fmt.Errorf("payments: write batch: %w", err)
	}
	return nil
}
