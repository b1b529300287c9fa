package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/mercadopago"
)

// The worker is a loop of our own over the inbox table rather than a
// watermill-sql subscriber. A subscriber holds its batch's transaction and
// row locks while the handler runs, here a call to MercadoPago that may take
// seconds; its nack redelivers at once inside that transaction, so it can
// neither wait between attempts nor remember how many there were. Claiming
// one row at a time with FOR UPDATE SKIP LOCKED and a lease, and calling
// MercadoPago outside any transaction, gives backoff, dead letters and
// several engines sharing the work.

// claimed is a notification a worker holds for one attempt.
type claimed struct {
	id             int64
	paymentID      string
	action         string
	notificationID string
	attempts       int
}

// Run processes the inbox with the configured number of workers, and
// forgets processed notifications older than the retention period, until
// ctx is done.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.purgeLoop(ctx)
	}()
	wg.Wait()
}

func (s *Service) work(ctx context.Context) {
	for {
		n, ok, err := s.claim(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error("claim payment notification", "error", err)
		case ok:
			s.process(ctx, n)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// claim takes the next due notification, if any.
func (s *Service) claim(ctx context.Context) (claimed, bool, error) {
	now := s.cfg.Now()
	var n claimed
	err := s.pool.QueryRow(ctx, query("inbox_claim"), now, now.Add(s.cfg.Lease)).Scan(
		&n.id, &n.paymentID, &n.action, &n.notificationID, &n.attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return claimed{}, false, nil
	}
	if err != nil {
		return claimed{}, false, err
	}
	return n, true, nil
}

// ProcessDue processes every notification due now, one after the other, and
// returns how many it processed; Run does the same in the background. It is
// for tests and administration commands.
func (s *Service) ProcessDue(ctx context.Context) (int, error) {
	done := 0
	for {
		n, ok, err := s.claim(ctx)
		if err != nil || !ok {
			return done, err
		}
		s.process(ctx, n)
		done++
	}
}

// process makes one attempt at a notification: read the payment from
// MercadoPago as it is now and record it on its order. The outcome is written
// back to the inbox: processed, due again after a backoff, or dead.
func (s *Service) process(ctx context.Context, n claimed) {
	org := Origin{Actor: SystemActor, CorrelationID: fmt.Sprintf("inbox:%d", n.id),
		CausationID: "mercadopago:" + n.paymentID + ":" + n.action + ":" + n.notificationID}
	outcome, err := s.attempt(ctx, n, org)

	// The bookkeeping must land even when the engine is stopping.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	now := s.cfg.Now()
	var werr error
	switch {
	case err == nil:
		_, werr = s.pool.Exec(bctx, query("inbox_done"), n.id, now, outcome)
	case ctx.Err() != nil:
		_, werr = s.pool.Exec(bctx, query("inbox_release"), n.id)
	case retryable(err) && n.attempts < s.cfg.MaxAttempts:
		next := now.Add(s.backoff(n.attempts))
		s.log.Warn("payment notification failed; will retry", "inbox_id", n.id,
			"payment_id", n.paymentID, "attempt", n.attempts, "retry_at", next, "error", err)
		_, werr = s.pool.Exec(bctx, query("inbox_retry_later"), n.id, next, err.Error())
	default:
		s.log.Error("payment notification dead-lettered", "inbox_id", n.id,
			"payment_id", n.paymentID, "attempts", n.attempts, "error", err)
		_, werr = s.pool.Exec(bctx, query("inbox_dead"), n.id, now, err.Error())
	}
	if werr != nil {
		// The lease runs out and the notification is tried again.
		s.log.Error("update payment inbox", "inbox_id", n.id, "error", werr)
	}
}

// Outcomes of a processed notification, kept in the inbox.
const (
	outcomeRecorded     = "recorded"
	outcomeUnchanged    = "unchanged"
	outcomeUnknownOrder = "unknown_order"
)

func (s *Service) attempt(ctx context.Context, n claimed, org Origin) (string, error) {
	p, err := s.deps.MercadoPago.GetPayment(ctx, n.paymentID)
	if err != nil {
		return "", err
	}
	rec, err := s.Record(ctx, p, org)
	if errors.Is(err, ErrUnknownOrder) {
		s.log.Warn("payment for no order of ours", "inbox_id", n.id, "payment_id", p.ID)
		return outcomeUnknownOrder, nil
	}
	if err != nil {
		return "", err
	}
	if len(rec.Events) == 0 {
		return outcomeUnchanged, nil
	}
	return outcomeRecorded, nil
}

// backoff is the wait after the given number of failed attempts: Backoff,
// doubling each time, at most MaxBackoff.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempts && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxBackoff)
}

// retryable reports whether another attempt may succeed: MercadoPago timing
// out, failing or rate limiting, a payment it does not show yet, and local
// failures such as the database. A malformed payment id or amount, and
// MercadoPago refusing the call, are not.
func retryable(err error) bool {
	var mpErr *mercadopago.Error
	if errors.As(err, &mpErr) {
		return mpErr.Transient() || errors.Is(err, mercadopago.ErrNotFound)
	}
	return !errors.Is(err, mercadopago.ErrInvalidPaymentID) &&
		!errors.Is(err, mercadopago.ErrInvalidInput)
}

func (s *Service) purgeLoop(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if _, err := s.pool.Exec(ctx, query("inbox_purge"), s.cfg.Now().Add(-s.cfg.Retention)); err != nil &&
			ctx.Err() == nil {
			s.log.Error("purge payment inbox", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
