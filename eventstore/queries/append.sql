-- Appends a batch of events to one stream in a single statement.
-- $1 stream id, $2 stream type, $3 expected version (-1 means any),
-- $4.. the events as parallel arrays. With an exact expected version the
-- events take the versions after it, and are written only when the stream is
-- empty (expected 0) or holds that version: a stream already past it makes
-- the statement fail on events_stream_version_key, one not there yet makes it
-- write nothing. With "any" they follow the current version, and a
-- concurrent writer that wins the race makes the statement fail the same way.
WITH current_version AS (
    SELECT coalesce(max(stream_version), 0) AS version
    FROM events
    WHERE stream_id = $1 AND $3::bigint < 0
),
input AS (
    SELECT *
    FROM unnest($4::uuid[], $5::text[], $6::integer[], $7::jsonb[], $8::jsonb[])
        WITH ORDINALITY AS e(event_id, event_type, schema_version, payload, metadata, n)
)
INSERT INTO events (
    event_id, stream_id, stream_type, stream_version,
    event_type, schema_version, payload, metadata
)
SELECT i.event_id, $1, $2,
       CASE WHEN $3::bigint < 0 THEN c.version ELSE $3::bigint END + i.n,
       i.event_type, i.schema_version, i.payload, i.metadata
FROM input i
CROSS JOIN current_version c
WHERE $3::bigint <= 0
   OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND stream_version = $3::bigint)
ORDER BY i.n
RETURNING global_position, stream_version
