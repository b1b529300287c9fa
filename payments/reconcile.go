package payments

import (
	"context"
	"errors"
	"time"
)

// reconcileBatch bounds how many orders one reconciliation asks about.
const reconcileBatch = 500

// ReconcileReport is what a reconciliation found and did.
type ReconcileReport struct {
	// OrdersChecked counts the unpaid orders asked about.
	OrdersChecked int `json:"orders_checked"`
	// PaymentsFound counts the payments MercadoPago listed for them.
	PaymentsFound int `json:"payments_found"`
	// PaymentsRecorded counts the payments that changed what was recorded.
	PaymentsRecorded int `json:"payments_recorded"`
	// RefundsChecked counts the cancelled, paid orders whose refund was
	// owed, and RefundsRequested the refunds MercadoPago accepted for them.
	RefundsChecked   int `json:"refunds_checked"`
	RefundsRequested int `json:"refunds_requested"`
	// Failures counts the orders that could not be reconciled this time.
	Failures int `json:"failures"`
}

// Reconcile catches up with payment news that never arrived. For every order
// whose checkout started more than minAge ago (a negative minAge takes the
// configured ReconcileAfter) and that is neither paid nor cancelled, it asks
// MercadoPago for the order's payments and records each one; for every
// cancelled order whose refund is still owed, it asks for the refund again.
// It reads the payments read model to find the orders, records through the
// same idempotent path as the webhook, and so is safe to run at any time,
// any number of times. Failures of single orders are counted and logged, not
// returned.
func (s *Service) Reconcile(ctx context.Context, minAge time.Duration) (ReconcileReport, error) {
	if minAge < 0 {
		minAge = s.cfg.ReconcileAfter
	}
	now := s.cfg.Now()
	var rep ReconcileReport
	unpaid, err := s.deps.Reader.UnpaidCheckouts(ctx, now.Add(-s.cfg.ReconcileLookback),
		now.Add(-minAge), reconcileBatch)
	if err != nil {
		return rep, err
	}
	org := Origin{Actor: SystemActor, CorrelationID: "reconcile:" + s.cfg.NewID().String()}
	for _, id := range unpaid {
		rep.OrdersChecked++
		if err := s.reconcileOrder(ctx, id, org, &rep); err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failures++
			s.log.Warn("reconcile order", "order_id", id, "error", err)
		}
	}

	owed, err := s.deps.Reader.RefundsOwed(ctx, reconcileBatch)
	if err != nil {
		return rep, err
	}
	for _, id := range owed {
		rep.RefundsChecked++
		requested, err := s.RefundCancelled(ctx, id, org)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failures++
			s.log.Warn("reconcile refund of cancelled order", "order_id", id, "error", err)
			continue
		}
		if requested {
			rep.RefundsRequested++
		}
	}
	return rep, nil
}

func (s *Service) reconcileOrder(ctx context.Context, orderID string, org Origin,
	rep *ReconcileReport) error {
	found, err := s.deps.MercadoPago.SearchPaymentsByExternalReference(ctx, orderID)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range found {
		rep.PaymentsFound++
		rec, err := s.Record(ctx, p, org)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(rec.Events) > 0 {
			rep.PaymentsRecorded++
		}
	}
	return errors.Join(errs...)
}
