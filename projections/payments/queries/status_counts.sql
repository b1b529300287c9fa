SELECT status, count(*) FROM payments GROUP BY status
