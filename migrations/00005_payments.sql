-- +goose Up

-- payment_inbox keeps every MercadoPago notification the webhook accepted
-- until it has been processed. Its first six columns are the table shape of
-- watermill-sql's PostgreSQL queue ("offset", uuid, payload, metadata, acked,
-- created_at): the webhook publishes into it with a watermill-sql publisher,
-- and the schema is owned here, so watermill's schema initialisation is off.
--
-- A notification is stored once: MercadoPago repeats a delivery with the
-- same payment id, action and notification id (a retry) or replays one with
-- the same x-request-id, and either unique key turns the repeat into a no-op.
-- Processed rows are kept for a retention period, which is how long the
-- deduplication lasts.
--
-- The worker claims due rows with FOR UPDATE SKIP LOCKED and a lease
-- (locked_until), calls MercadoPago outside any transaction, then marks the
-- row acked, schedules the next attempt, or dead-letters it (dead_at).
CREATE TABLE payment_inbox (
    "offset"        bigserial   NOT NULL,
    uuid            varchar(36) NOT NULL,
    payload         jsonb,
    metadata        json,
    acked           boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    payment_id      text        NOT NULL,
    action          text        NOT NULL,
    notification_id text        NOT NULL,
    request_id      text,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    locked_until    timestamptz,
    last_error      text,
    dead_at         timestamptz,
    processed_at    timestamptz,
    outcome         text,
    CONSTRAINT payment_inbox_pkey PRIMARY KEY ("offset"),
    CONSTRAINT payment_inbox_delivery_key UNIQUE (payment_id, action, notification_id),
    CONSTRAINT payment_inbox_request_key UNIQUE (request_id),
    CONSTRAINT payment_inbox_attempts_check CHECK (attempts >= 0)
);

-- The worker's claim: due rows that are neither processed nor dead.
CREATE INDEX payment_inbox_due_idx ON payment_inbox (next_attempt_at, "offset")
    WHERE NOT acked AND dead_at IS NULL;
CREATE INDEX payment_inbox_dead_idx ON payment_inbox (dead_at, "offset")
    WHERE dead_at IS NOT NULL;
CREATE INDEX payment_inbox_processed_idx ON payment_inbox (processed_at) WHERE acked;

-- +goose Down
DROP TABLE payment_inbox;
