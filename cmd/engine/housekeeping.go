package main

import (
	"context"
	"time"

	"comanda/accounts"
)

// idempotencyRetention is how long the answer to an idempotent command is
// kept for retries.
const idempotencyRetention = 24 * time.Hour

// housekeeping deletes expired idempotency answers and refresh tokens once
// an hour until ctx is done.
func (e *engine) housekeeping(store *accounts.Store) func(ctx context.Context) {
	return func(ctx context.Context) {
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			cutoff := time.Now().Add(-idempotencyRetention)
			if _, err := e.db.Pool.Exec(ctx, query("purge_idempotency"), cutoff); err != nil &&
				ctx.Err() == nil {
				e.log.Warn("purge idempotency keys", "error", err)
			}
			if _, err := store.PurgeRefreshTokens(ctx, time.Now()); err != nil && ctx.Err() == nil {
				e.log.Warn("purge refresh tokens", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
}
