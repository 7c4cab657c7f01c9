-- 0016: when the payment backstop last asked the acquirer about a waiting payment.
--
-- Same conventions as 0001. The backstop (daemon._check_payments) asks about payments whose
-- webhook has not come, a bounded number per pass. An unchanged answer ("still pending")
-- does not touch updated_at, so ordering by it asked the same oldest payments every pass
-- and never the others once more waited than one pass asks about. checked_at (NULL: never
-- asked) is set on each payment asked, and a pass takes the never asked first, then the
-- longest unasked: every waiting payment gets its turn.
ALTER TABLE payments ADD COLUMN checked_at @TS@;

-- Only the waiting payments (a small part of the book), in the order a pass takes them.
-- NULLs come first in an ascending SQLite index; PostgreSQL must be told.
-- @sqlite:begin
CREATE INDEX payments_waiting ON payments (checked_at, updated_at, order_id)
    WHERE state IN ('created', 'pending');
-- @sqlite:end

-- @postgresql:begin
CREATE INDEX payments_waiting ON payments (checked_at NULLS FIRST, updated_at, order_id)
    WHERE state IN ('created', 'pending');
-- @postgresql:end
