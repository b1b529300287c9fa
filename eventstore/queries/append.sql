-- Appends a batch of events to one stream in a single statement.
-- $1 stream id, $2 stream type, $3 expected version (-1 means any),
-- $4.. the events as parallel arrays. The insert happens only when the
-- stream's current version equals the expected one; a concurrent writer that
-- wins the race makes this statement fail on events_stream_version_key.
WITH current_version AS (
    SELECT coalesce(max(stream_version), 0) AS version
    FROM events
    WHERE stream_id = $1
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
SELECT i.event_id, $1, $2, c.version + i.n,
       i.event_type, i.schema_version, i.payload, i.metadata
FROM input i
CROSS JOIN current_version c
WHERE $3::bigint < 0 OR c.version = $3::bigint
ORDER BY i.n
RETURNING global_position, stream_version
