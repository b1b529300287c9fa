-- The next batch of events for one consumer group, in log order. The first
-- part locks the group's offset row; rows of transactions that may still be
-- running are left for a later poll. Filled in by SchemaAdapter.SelectQuery.
SELECT * FROM (
    WITH last_processed AS (
        %s
    )
    SELECT global_position, event_id, stream_id, stream_type, stream_version,
           event_type, schema_version, payload, metadata, recorded_at,
           transaction_id::text::bigint
    FROM events
    WHERE (
        (transaction_id = (SELECT last_processed_transaction_id FROM last_processed)
            AND global_position > (SELECT offset_acked FROM last_processed))
        OR transaction_id > (SELECT last_processed_transaction_id FROM last_processed)
    )
    AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
) AS batch
ORDER BY transaction_id, global_position
LIMIT %d
