-- Gives a claimed notification back without counting the attempt, when the
-- engine stops in the middle of it.
UPDATE payment_inbox
SET attempts = greatest(attempts - 1, 0), locked_until = NULL
WHERE "offset" = $1
