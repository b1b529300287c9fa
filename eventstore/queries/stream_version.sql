-- The current version of one stream; 0 when it has no events.
SELECT coalesce(max(stream_version), 0)
FROM events
WHERE stream_id = $1
