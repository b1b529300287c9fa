package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"comanda/eventstore"
)

// handleMessage applies one event delivered by the subscriber inside a
// savepoint of the subscriber's transaction, so a failed attempt leaves no
// trace. It acks on success, nacks for another attempt on failure, and
// returns true when the event has failed too often and the projector must
// stop on it.
func (p *Projector) handleMessage(msg *message.Message) (stop bool) {
	ctx := msg.Context()
	if f, ok := p.handler.(StreamFilter); ok && !f.Handles(msg.Metadata.Get(eventstore.MetaStreamType)) {
		msg.Ack()
		return false
	}
	e, err := eventstore.EventFromMessage(msg)
	if err == nil {
		e, err = p.store.Upcast(e)
	}
	if err == nil {
		err = p.applyInSavepoint(ctx, e)
	}
	if err == nil {
		msg.Ack()
		p.cfg.Metrics.applied(p.name, 1)
		p.clearFailure()
		return false
	}

	p.cfg.Metrics.handlerError(p.name)
	attempts := p.recordFailure(e, err)
	if attempts >= p.cfg.MaxAttempts {
		p.cfg.Logger.Error("projection stopped on a failing event", "projection", p.name,
			"position", e.Position, "event_type", e.Type, "attempts", attempts, "error", err)
		return true
	}
	msg.Nack()
	return false
}

func (p *Projector) applyInSavepoint(ctx context.Context, e eventstore.Event) error {
	wtx, ok := wsql.TxFromContext(ctx)
	if !ok {
		return errors.New("BUG: subscriber message carries no transaction")
	}
	var outer pgx.Tx
	switch t := wtx.(type) {
	case *wsql.PgxTx:
		outer = t.Tx
	case wsql.PgxTx:
		outer = t.Tx
	default:
		return fmt.Errorf("BUG: subscriber transaction is a %T, not a pgx one", wtx)
	}
	sp, err := outer.Begin(ctx)
	if err != nil {
		return fmt.Errorf("open savepoint for event %d: %w", e.Position, err)
	}
	if err := p.handler.Apply(ctx, sp, []eventstore.Event{e}); err != nil {
		_ = sp.Rollback(ctx)
		return fmt.Errorf("apply event %d (%s): %w", e.Position, e.Type, err)
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("release savepoint for event %d: %w", e.Position, err)
	}
	return nil
}

func (p *Projector) recordFailure(e eventstore.Event, err error) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts[e.Position]++
	n := p.attempts[e.Position]
	if p.failure == nil || p.failure.Position != e.Position {
		p.failure = &Failure{Position: e.Position, EventType: e.Type, StreamID: e.StreamID,
			Since: time.Now()}
	}
	p.failure.Error = err.Error()
	p.failure.Attempts = n
	return n
}

func (p *Projector) clearFailure() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failure != nil || len(p.attempts) > 0 {
		p.failure = nil
		clear(p.attempts)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
