-- The event log for auditors, in position order after a position, filtered
-- by stream, stream type, event type, actor and recording time.
SELECT global_position, event_id, stream_id, stream_type, stream_version,
       event_type, schema_version, payload, metadata->>'correlation_id', metadata->>'causation_id',
       metadata->>'actor', metadata->>'occurred_at', recorded_at,
       transaction_id::text::bigint
FROM events
WHERE global_position > $1
  AND ($2::text IS NULL OR stream_id = $2)
  AND ($3::text IS NULL OR stream_type = $3)
  AND ($4::text IS NULL OR event_type = $4)
  AND ($5::text IS NULL OR metadata->>'actor' = $5)
  AND ($6::timestamptz IS NULL OR recorded_at >= $6)
  AND ($7::timestamptz IS NULL OR recorded_at < $7)
ORDER BY global_position
LIMIT $8
