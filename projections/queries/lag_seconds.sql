-- How long the oldest event after a checkpoint has been waiting, in seconds.
SELECT coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at)), 0)::float8
FROM (
    SELECT recorded_at
    FROM events
    WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
    ORDER BY transaction_id, global_position
    LIMIT 1
) AS next_event
