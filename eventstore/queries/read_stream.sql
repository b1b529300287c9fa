-- One stream's events from a version, up to a version and a recording time.
SELECT global_position, event_id, stream_id, stream_type, stream_version,
       event_type, schema_version, payload, metadata->>'correlation_id', metadata->>'causation_id',
       metadata->>'actor', metadata->>'occurred_at', recorded_at,
       transaction_id::text::bigint AS txid
FROM events
WHERE stream_id = $1
  AND stream_version >= $2
  AND stream_version <= $3
  AND recorded_at <= $4
ORDER BY stream_version
