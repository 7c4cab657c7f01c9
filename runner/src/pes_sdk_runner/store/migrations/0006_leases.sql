-- 0006: leases (аренда) in the store: one holder of a named role at a time.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.

-- The scheduler of `pes runner serve` holds the lease 'scheduler' while it runs, renewing
-- it every third of its time to live; a second scheduler on the store is refused while the
-- lease is held, and takes it over once it has expired (its holder died without releasing
-- it). A row, not a pid file: processes on several hosts share one PostgreSQL store.
CREATE TABLE leases (
    name         TEXT PRIMARY KEY,       -- the role: 'scheduler'
    owner        TEXT NOT NULL,          -- who holds it: host, pid and a random tag
    taken_at     @TS@ NOT NULL,          -- when this owner took it
    expires_at   @TS@ NOT NULL           -- free for another owner from then on
);
