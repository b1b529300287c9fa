-- Appends one event at an exact expected version in a single statement, the
-- common case. Version expected+1 is written only when the stream is empty
-- (expected 0) or holds version expected; a stream already past it makes the
-- insert fail on events_stream_version_key. Either way it is a conflict.
-- $1 stream id, $2 stream type, $3 expected version, $4.. the event.
INSERT INTO events (
    event_id, stream_id, stream_type, stream_version,
    event_type, schema_version, payload, metadata
)
SELECT $4, $1, $2, $3::bigint + 1, $5, $6, $7, $8
WHERE $3::bigint = 0
   OR EXISTS (SELECT 1 FROM events WHERE stream_id = $1 AND stream_version = $3::bigint)
RETURNING global_position, stream_version
