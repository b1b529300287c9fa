package payments

import (
	"context"
	"errors"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/mercadopago"
)

// Refunded is what a refund did.
type Refunded struct {
	OrderID   string
	PaymentID string
	RefundID  string
	// Amount is what this refund gives back; RefundedTotal everything given
	// back on the order's payment so far, as recorded.
	Amount        domain.Money
	RefundedTotal domain.Money
	Status        string
	Position      int64
}

// Refund gives back amount (nil: all that is left) of the payment that paid
// the order, asked by actor: the business's owner, its staff or an admin.
// MercadoPago's refund is recorded as PaymentRefundRequested, then the
// payment is read again and recorded, which records OrderRefunded.
func (s *Service) Refund(ctx context.Context, orderID string, actor domain.Actor,
	amount *domain.Money, org Origin) (Refunded, error) {
	o, _, err := s.load(ctx, orderID)
	if err != nil {
		return Refunded{}, err
	}
	if err := s.mayRead(ctx, o, actor); err != nil {
		return Refunded{}, err
	}
	owner, err := s.owner(ctx, o)
	if err != nil {
		return Refunded{}, err
	}
	plan, err := o.PlanRefund(actor, owner, amount)
	if err != nil {
		return Refunded{}, err
	}
	refund, err := s.refund(ctx, o, plan)
	if err != nil {
		return Refunded{}, upstreamError("refund this payment", err)
	}
	org.Role = actor.Role
	return s.recordRefund(ctx, o.ID, plan, refund, org)
}

// RefundCancelled asks for the full refund a cancelled order paid through
// MercadoPago is owed; an order that is owed nothing is left alone. The
// outcome is recorded: PaymentRefundRequested and the payment as MercadoPago
// then reports it, or PaymentRefundFailed, whose error is also returned.
// Reconciliation calls it again for refunds that failed. It reports whether
// MercadoPago accepted a refund.
func (s *Service) RefundCancelled(ctx context.Context, orderID string, org Origin) (bool, error) {
	o, version, err := s.load(ctx, orderID)
	if err != nil {
		return false, err
	}
	plan, owed := o.CancelRefund()
	if !owed {
		return false, nil
	}
	refund, err := s.refund(ctx, o, plan)
	if err != nil {
		failed := &domain.PaymentRefundFailed{OrderID: o.ID, PaymentID: plan.PaymentID,
			Amount: plan.Amount, Reason: plan.Reason, Error: refundFailure(err),
			Retryable: mercadopago.IsTransient(err)}
		if _, aerr := s.appendAnyVersion(ctx, o.ID, version, "", org, failed); aerr != nil {
			return false, errors.Join(err, aerr)
		}
		return false, err
	}
	if _, err := s.recordRefund(ctx, o.ID, plan, refund, org); err != nil {
		return false, err
	}
	return true, nil
}

// refund asks MercadoPago for the refund of plan, under the plan's
// idempotency key. A full refund of an untouched payment is asked for without
// an amount.
func (s *Service) refund(ctx context.Context, o *domain.PayableOrder,
	plan domain.RefundPlan) (mercadopago.Refund, error) {
	var amount *int64
	if !plan.Full || o.Ledger.Refunded.Amount > 0 {
		a := plan.Amount.Amount
		amount = &a
	}
	ctx = withIdempotencyKey(ctx, plan.IdempotencyKey(o.ID))
	return s.deps.MercadoPago.Refund(ctx, plan.PaymentID, amount)
}

// recordRefund appends the refund MercadoPago accepted, then reads the
// payment again and records it. When that read fails the refund still
// stands: the webhook MercadoPago sends about it records the payment later.
func (s *Service) recordRefund(ctx context.Context, orderID string, plan domain.RefundPlan,
	refund mercadopago.Refund, org Origin) (Refunded, error) {
	if refund.Amount > 0 {
		plan.Amount.Amount = refund.Amount
	}
	ev := plan.Requested(orderID, refund.ID, org.Role)
	res, err := s.appendAnyVersion(ctx, orderID, 0, "refund/"+plan.IdempotencyKey(orderID), org, ev)
	if err != nil {
		return Refunded{}, err
	}
	out := Refunded{OrderID: orderID, PaymentID: plan.PaymentID, RefundID: refund.ID,
		Amount: plan.Amount, Status: refund.Status, Position: res.Position}

	sys := Origin{Actor: SystemActor, CorrelationID: org.CorrelationID, CausationID: "refund:" + refund.ID}
	if p, err := s.deps.MercadoPago.GetPayment(ctx, plan.PaymentID); err == nil {
		if rec, err := s.Record(ctx, p, sys); err == nil && rec.Position > 0 {
			out.Position = rec.Position
		}
	}
	o, _, err := s.load(ctx, orderID)
	if err != nil {
		return Refunded{}, err
	}
	out.RefundedTotal = o.Ledger.Refunded
	return out, nil
}

// appendAnyVersion appends events that do not depend on the order's state,
// starting at version (0: the current one) and following the stream when
// another writer moved it.
func (s *Service) appendAnyVersion(ctx context.Context, orderID string, version int64, key string,
	org Origin, events ...domain.Event) (eventstore.AppendResult, error) {
	for attempt := 0; ; attempt++ {
		if version == 0 {
			v, err := s.deps.Store.StreamVersion(ctx, orderID)
			if err != nil {
				return eventstore.AppendResult{}, err
			}
			version = v
		}
		res, err := s.appendEvents(ctx, orderID, version, key, org, events...)
		var ce *eventstore.ConcurrencyError
		if errors.As(err, &ce) && attempt < maxDecideRetries {
			version = ce.Actual
			continue
		}
		return res, err
	}
}

// refundFailure says why a refund failed in words safe to record.
func refundFailure(err error) string {
	var mpErr *mercadopago.Error
	switch {
	case mercadopago.IsTransient(err):
		return "MercadoPago did not answer in time"
	case errors.As(err, &mpErr) && mpErr.StatusCode > 0:
		return "MercadoPago refused the refund: " + mpErr.Message
	default:
		return "the refund could not be asked for"
	}
}

// OnPaidCancel is the hook the order routes call after a cancellation: it
// asks for the full refund the order is owed, if any. A failure is recorded
// on the order and reconciliation asks again.
func (s *Service) OnPaidCancel(ctx context.Context, orderID string) error {
	_, err := s.RefundCancelled(ctx, orderID, Origin{Actor: SystemActor,
		CorrelationID: "cancel:" + orderID})
	return err
}
