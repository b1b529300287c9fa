SELECT (SELECT count(*) FROM payment_inbox WHERE NOT acked AND dead_at IS NULL) AS backlog,
       (SELECT count(*) FROM payment_inbox WHERE dead_at IS NOT NULL) AS dead
