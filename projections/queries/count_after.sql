-- Events after a checkpoint: what a projector has yet to apply.
SELECT count(*)
FROM events
WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
