-- The event log between two positions, optionally within a recording-time
-- range, in position order, for auditors' exports.
SELECT global_position, event_id, stream_id, stream_type, stream_version,
       event_type, schema_version, payload, metadata->>'correlation_id',
       metadata->>'causation_id', metadata->>'actor', metadata->>'occurred_at',
       recorded_at, transaction_id::text::bigint AS txid
FROM events
WHERE global_position BETWEEN $1 AND $2
  AND ($3::timestamptz IS NULL OR recorded_at >= $3)
  AND ($4::timestamptz IS NULL OR recorded_at < $4)
ORDER BY global_position
