package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
)

// applyPayment folds payment events into an order row: paid, the status of
// the payment that stands for the order (the one that paid it or, while it is
// unpaid, the latest one not under review) and the amount refunded.
func applyPayment(r *row, de domain.Event) {
	switch ev := de.(type) {
	case *domain.PaymentStatusRecorded:
		if ev.OrderPayment {
			st := ev.Status
			r.PaymentStatus = &st
		}
	case *domain.OrderPaid:
		r.Paid = true
		if r.PaymentStatus == nil {
			st := domain.PaymentApproved
			r.PaymentStatus = &st
		}
	case *domain.OrderRefunded:
		r.Refunded = ev.RefundedTotal.Amount
	case *domain.OrderChargedBack:
		st := domain.PaymentChargedBack
		r.PaymentStatus = &st
	}
}

func (h *Handler) write(ctx context.Context, tx pgx.Tx, b *batch) error {
	batch := &pgx.Batch{}
	if n := len(b.dirty); n > 0 {
		var (
			ids, biz, cust, status, ful, pm, notes, cur, lines = make([]string, n), make([]string, n),
				make([]string, n), make([]string, n), make([]string, n), make([]string, n),
				make([]string, n), make([]string, n), make([]string, n)
			paid                                         = make([]bool, n)
			payStatus, addr, disc                        = make([]*string, n), make([]*string, n), make([]*string, n)
			sub, fee, discAmt, total, refunded, ver, pos = make([]int64, n), make([]int64, n),
				make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
			days             = make([]time.Time, n)
			created, updated = make([]time.Time, n), make([]time.Time, n)
		)
		for i, id := range b.dirty {
			r := b.rows[id]
			ids[i], biz[i], cust[i], status[i], ful[i], pm[i] = r.ID, r.BusinessID, r.CustomerID,
				r.Status, r.Fulfillment, r.PaymentMethod
			paid[i], payStatus[i], addr[i], lines[i], notes[i], disc[i] = r.Paid, r.PaymentStatus,
				r.Address, r.Lines, r.Note, r.Discount
			cur[i], sub[i], fee[i], discAmt[i], total[i], refunded[i] = r.Currency, r.Subtotal,
				r.DeliveryFee, r.DiscountAmount, r.Total, r.Refunded
			days[i], ver[i], pos[i], created[i], updated[i] = r.PlacedDay, r.Version, r.Position,
				r.CreatedAt, r.UpdatedAt
		}
		batch.Queue(h.upsert, ids, biz, cust, status, ful, pm, paid, payStatus, addr, lines, notes,
			disc, cur, sub, fee, discAmt, total, refunded, days, ver, pos, created, updated)
	}
	if n := len(b.messages); n > 0 {
		ids, orders, authors, roles, texts, metas := make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		pos, at := make([]int64, n), make([]time.Time, n)
		for i, m := range b.messages {
			meta := m.Metadata
			if meta == nil {
				meta = map[string]any{}
			}
			ids[i], orders[i], authors[i], roles[i], texts[i] = m.MessageID, m.OrderID, m.AuthorID,
				string(m.AuthorRole), m.Text
			metas[i] = *jsonText(meta)
			pos[i], at[i] = b.msgMeta[i].Position, b.msgMeta[i].Metadata.OccurredAt
		}
		batch.Queue(h.messages, ids, orders, authors, roles, texts, metas, pos, at)
	}
	if n := len(b.days); n > 0 {
		biz, cur := make([]string, 0, n), make([]string, 0, n)
		days := make([]time.Time, 0, n)
		orders, completed, cancelled, revenue := make([]int64, 0, n), make([]int64, 0, n),
			make([]int64, 0, n), make([]int64, 0, n)
		for k, d := range b.days {
			day, _ := time.Parse(time.DateOnly, k.day)
			biz, days, cur = append(biz, k.business), append(days, day), append(cur, d.currency)
			orders, completed = append(orders, d.orders), append(completed, d.completed)
			cancelled, revenue = append(cancelled, d.cancellations), append(revenue, d.revenue)
		}
		batch.Queue(h.daily, biz, days, cur, orders, completed, cancelled, revenue)
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("orders: write batch: %w", err)
	}
	return nil
}
