-- +goose Up

-- events is the event store and, at the same time, the topic table that the
-- watermill-sql subscriber reads. global_position is the subscriber's
-- "offset"; transaction_id lets readers skip nothing when transactions commit
-- out of position order.
CREATE TABLE events (
    global_position bigserial   NOT NULL,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_type     text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1 CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_pkey PRIMARY KEY (transaction_id, global_position),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX events_global_position_idx ON events (global_position);
CREATE INDEX events_stream_type_idx ON events (stream_type, global_position);

-- projection_offsets holds one row per consumer group, in the shape the
-- watermill-sql PostgreSQL offsets adapter reads and writes.
CREATE TABLE projection_offsets (
    consumer_group                text   NOT NULL PRIMARY KEY,
    offset_acked                  bigint NOT NULL DEFAULT 0,
    last_processed_transaction_id xid8   NOT NULL DEFAULT '0'
);

-- +goose Down
DROP TABLE projection_offsets;
DROP TABLE events;
