-- The cursor of the newest event that every reader can already see.
SELECT transaction_id::text::bigint, global_position
FROM events
WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY transaction_id DESC, global_position DESC
LIMIT 1
