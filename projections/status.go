package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"comanda/domain"
	"comanda/eventstore"
)

// Status is a projector's progress as committed in the database.
type Status struct {
	Name       string            `json:"name"`
	Group      string            `json:"consumer_group"`
	Cursor     eventstore.Cursor `json:"-"`
	Position   int64             `json:"position"`
	Head       int64             `json:"head"`
	LagEvents  int64             `json:"lag_events"`
	LagSeconds float64           `json:"lag_seconds"`
	Running    bool              `json:"running"`
	Failure    *Failure          `json:"failure,omitempty"`
}

// Checkpoint returns the cursor the projector has committed.
func (p *Projector) Checkpoint(ctx context.Context) (eventstore.Cursor, error) {
	var c eventstore.Cursor
	err := p.pool.QueryRow(ctx, query("checkpoint"), p.cfg.Group).Scan(&c.Position, &c.TransactionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return eventstore.Cursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("read checkpoint of %s: %w", p.name, err)
	}
	return c, nil
}

// Status reads the projector's checkpoint and the head of the log.
func (p *Projector) Status(ctx context.Context) (Status, error) {
	c, err := p.Checkpoint(ctx)
	if err != nil {
		return Status{}, err
	}
	head, err := p.store.Head(ctx)
	if err != nil {
		return Status{}, err
	}
	var lagSeconds float64
	err = p.pool.QueryRow(ctx, query("lag_seconds"), fmt.Sprint(c.TransactionID), c.Position).
		Scan(&lagSeconds)
	if err != nil {
		return Status{}, fmt.Errorf("measure lag of %s: %w", p.name, err)
	}
	st := Status{
		Name: p.name, Group: p.cfg.Group, Cursor: c, Position: c.Position, Head: head,
		LagEvents: max(head-c.Position, 0), LagSeconds: lagSeconds,
		Running: p.Running(), Failure: p.Failure(),
	}
	if lagSeconds == 0 {
		st.LagEvents = 0
	}
	p.cfg.Metrics.observe(st)
	return st, nil
}

// Reached reports whether the projector has committed the event at position.
func (p *Projector) Reached(ctx context.Context, position int64) (bool, error) {
	target, ok, err := p.store.CursorAt(ctx, position)
	if err != nil || !ok {
		return false, err
	}
	c, err := p.Checkpoint(ctx)
	if err != nil {
		return false, err
	}
	return !target.After(c), nil
}

// WaitFor blocks until the projector has committed the event at position, or
// until timeout passes, when it returns a projection_lagging error.
func (p *Projector) WaitFor(ctx context.Context, position int64, timeout time.Duration) error {
	if position <= 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	wait := 2 * time.Millisecond
	for {
		ok, err := p.Reached(ctx, position)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return &domain.Error{
				Code:    domain.CodeProjectionLagging,
				Message: fmt.Sprintf("the %s read model has not reached position %d yet", p.name, position),
				Details: map[string]any{"projection": p.name, "position": position},
			}
		}
		sleep(ctx, wait)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait = min(wait*2, 25*time.Millisecond)
	}
}
