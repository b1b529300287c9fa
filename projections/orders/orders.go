// Package orders is the orders read model: the orders, order_messages and
// daily_sales tables, kept by a projection of the order streams, and the
// queries that read them. The projection applies a whole batch of events
// with a few set-based statements, which is what makes rebuilds fast.
package orders

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"sync"
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
const Name = "orders"

// Definition describes the orders read model for the projection manager.
func Definition() projections.Definition {
	return projections.Definition{
		Name: Name,
		Tables: []projections.Table{
			{Name: "orders", Key: []string{"id"}},
			{Name: "order_messages", Key: []string{"message_id"}},
			{Name: "daily_sales", Key: []string{"business_id", "day"}},
		},
		Schema:     query("schema"),
		NewHandler: func(t projections.Tables) projections.Handler { return NewHandler(t) },
	}
}

// Handler is the orders projection for one version of its tables.
type Handler struct {
	load, upsert, messages, daily string
}

// NewHandler returns the projection writing to tables t.
func NewHandler(t projections.Tables) *Handler {
	return &Handler{
		load: t.Expand(query("load")), upsert: t.Expand(query("upsert")),
		messages: t.Expand(query("messages_insert")), daily: t.Expand(query("daily_upsert")),
	}
}

// row is one order as the read table holds it.
type row struct {
	ID, BusinessID, CustomerID         string
	Status, Fulfillment, PaymentMethod string
	Paid                               bool
	PaymentStatus                      *string
	Address, Discount                  *string
	Lines                              string
	Note, Currency                     string
	Subtotal, DeliveryFee              int64
	DiscountAmount, Total, Refunded    int64
	PlacedDay                          time.Time
	Version, Position                  int64
	CreatedAt, UpdatedAt               time.Time
}

type dayKey struct {
	business string
	day      string
}

type dayDelta struct {
	currency                                  string
	orders, completed, cancellations, revenue int64
}

// batch is the state of one Apply call.
type batch struct {
	rows     map[string]*row
	dirty    []string
	isDirty  map[string]bool
	messages []domain.OrderMessagePosted
	msgMeta  []eventstore.Event
	days     map[dayKey]*dayDelta
}

// Handles reports that only order streams matter here.
func (h *Handler) Handles(streamType string) bool { return streamType == domain.StreamOrder }

// Apply folds a batch of events into the read tables with one query to load
// the orders it touches and one statement per table to write them.
func (h *Handler) Apply(ctx context.Context, tx pgx.Tx, events []eventstore.Event) error {
	b := &batch{rows: map[string]*row{}, isDirty: map[string]bool{}, days: map[dayKey]*dayDelta{}}
	decoded := make([]domain.Event, len(events))
	var missing []string
	for i, e := range events {
		if e.StreamType != domain.StreamOrder {
			continue
		}
		de, err := domain.DecodeEvent(e.Type, e.Payload)
		if err != nil {
			return fmt.Errorf("orders: event %d: %w", e.Position, err)
		}
		decoded[i] = de
		if _, placed := de.(*domain.OrderPlaced); !placed && !b.isDirty[e.StreamID] {
			if _, seen := b.rows[e.StreamID]; !seen {
				missing = append(missing, e.StreamID)
				b.rows[e.StreamID] = nil
			}
		}
		if placed, ok := de.(*domain.OrderPlaced); ok {
			b.rows[placed.OrderID] = &row{}
		}
	}
	if err := h.loadRows(ctx, tx, b, missing); err != nil {
		return err
	}
	for i, de := range decoded {
		if de == nil {
			continue
		}
		if err := b.apply(events[i], de); err != nil {
			return err
		}
	}
	return h.write(ctx, tx, b)
}

func (h *Handler) loadRows(ctx context.Context, tx pgx.Tx, b *batch, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, h.load, ids)
	if err != nil {
		return fmt.Errorf("orders: load rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ID, &r.BusinessID, &r.CustomerID, &r.Status, &r.Fulfillment,
			&r.PaymentMethod, &r.Paid, &r.PaymentStatus, &r.Address, &r.Lines, &r.Note, &r.Discount,
			&r.Currency, &r.Subtotal, &r.DeliveryFee, &r.DiscountAmount, &r.Total, &r.Refunded,
			&r.PlacedDay, &r.Version, &r.Position, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return err
		}
		b.rows[r.ID] = &r
	}
	return rows.Err()
}

func jsonText(v any) *string {
	if v == nil {
		return nil
	}
	raw, _ := json.Marshal(v) // domain values are plain data and always encode
	s := string(raw)
	return &s
}

var (
	zoneMu sync.Mutex
	zones  = map[string]*time.Location{}
)

func zone(name string) *time.Location {
	zoneMu.Lock()
	defer zoneMu.Unlock()
	if loc, ok := zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" {
		loc = time.UTC
	}
	zones[name] = loc
	return loc
}

func (b *batch) day(r *row) *dayDelta {
	k := dayKey{business: r.BusinessID, day: r.PlacedDay.Format(time.DateOnly)}
	d, ok := b.days[k]
	if !ok {
		d = &dayDelta{currency: r.Currency}
		b.days[k] = d
	}
	return d
}

func setTotals(r *row, t domain.Totals) {
	r.Subtotal, r.DeliveryFee = t.Subtotal.Amount, t.DeliveryFee.Amount
	r.DiscountAmount, r.Total = t.Discount.Amount, t.Total.Amount
}

func (b *batch) apply(e eventstore.Event, de domain.Event) error {
	r := b.rows[e.StreamID]
	if r == nil {
		return fmt.Errorf("orders: event %d (%s) for unknown order %s", e.Position, e.Type, e.StreamID)
	}
	at := e.Metadata.OccurredAt
	switch ev := de.(type) {
	case *domain.OrderPlaced:
		*r = row{ID: ev.OrderID, BusinessID: ev.BusinessID, CustomerID: ev.CustomerID,
			Status: string(domain.StatusPlaced), Fulfillment: string(ev.Fulfillment),
			PaymentMethod: string(ev.PaymentMethod), Address: addressJSON(ev.Address),
			Lines: *jsonText(ev.Lines), Note: ev.Note, Currency: string(ev.Totals.Total.Currency),
			PlacedDay: at.In(zone(ev.Timezone)), CreatedAt: at}
		r.PlacedDay = time.Date(r.PlacedDay.Year(), r.PlacedDay.Month(), r.PlacedDay.Day(), 0, 0, 0, 0, time.UTC)
		setTotals(r, ev.Totals)
		b.day(r).orders++
	case *domain.OrderUpdated:
		r.Lines, r.Address, r.Note = *jsonText(ev.Lines), addressJSON(ev.Address), ev.Note
		setTotals(r, ev.Totals)
	case *domain.OrderDiscountApplied:
		r.Discount = jsonText(ev.Discount)
		setTotals(r, ev.Totals)
	case *domain.OrderStatusChanged:
		r.Status = string(ev.To)
		switch ev.To {
		case domain.StatusCancelled:
			b.day(r).cancellations++
		case domain.StatusDelivered, domain.StatusPickedUp:
			d := b.day(r)
			d.completed++
			d.revenue += r.Total
		}
	case *domain.OrderMessagePosted:
		b.messages = append(b.messages, *ev)
		b.msgMeta = append(b.msgMeta, e)
	default:
		applyPayment(r, de)
	}
	r.Version, r.Position, r.UpdatedAt = e.Version, e.Position, at
	if !b.isDirty[r.ID] {
		b.isDirty[r.ID] = true
		b.dirty = append(b.dirty, r.ID)
	}
	return nil
}

func addressJSON(a *domain.Address) *string {
	if a == nil {
		return nil
	}
	return jsonText(a)
}
