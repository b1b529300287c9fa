-- The next batch of events for one consumer group, in log order. The first
-- part locks the group's offset row; rows of transactions that may still be
-- running are left for a later poll. The keyset condition lets the primary
-- key index return the batch already in order, however long the backlog.
-- Filled in by SchemaAdapter.SelectQuery.
WITH last_processed AS (
    %s
)
SELECT e.global_position, e.event_id, e.stream_id, e.stream_type, e.stream_version,
       e.event_type, e.schema_version, e.payload, e.metadata->>'correlation_id',
       e.metadata->>'causation_id', e.metadata->>'actor', e.metadata->>'occurred_at', e.recorded_at,
       e.transaction_id::text::bigint AS txid
FROM events e
WHERE (e.transaction_id, e.global_position) >
      ((SELECT last_processed_transaction_id FROM last_processed),
       (SELECT offset_acked FROM last_processed))
  AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.transaction_id, e.global_position
LIMIT %d
