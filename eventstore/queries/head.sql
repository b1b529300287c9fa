-- The newest position in the log; 0 when the log is empty.
SELECT coalesce(max(global_position), 0) FROM events
