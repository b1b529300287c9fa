-- Every event after a (transaction id, position) cursor, in the order the
-- projectors see them. Only transactions older than every running one are
-- visible, so a page never changes once read and nothing is skipped.
SELECT global_position, event_id, stream_id, stream_type, stream_version,
       event_type, schema_version, payload, metadata->>'correlation_id', metadata->>'causation_id',
       metadata->>'actor', metadata->>'occurred_at', recorded_at,
       transaction_id::text::bigint AS txid
FROM events
WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id, global_position
LIMIT $3
