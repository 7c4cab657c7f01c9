-- 0009: the runner's processes, as their heartbeats leave them (pes runner status).
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.

-- Each `pes runner serve` and `pes runner worker` writes its row when it starts, renews
-- beat_at every few seconds from a thread on a connection of its own, and deletes the row
-- when it stops cleanly. A row whose beat is old is a process that died (SIGKILL, a power
-- cut, a lost host): status shows it as dead, and the beats of the living delete it a day
-- later. A row, not a pid file: processes on several hosts share one PostgreSQL store.
CREATE TABLE processes (
    id          TEXT PRIMARY KEY,        -- random per process start: pids are reused
    role        TEXT NOT NULL,           -- 'serve' or 'worker'
    host        TEXT NOT NULL,           -- the host name
    pid         INTEGER NOT NULL,
    version     TEXT NOT NULL,           -- the runner's version
    started_at  @TS@ NOT NULL,
    beat_at     @TS@ NOT NULL            -- its last heartbeat
);
-- finding the dead (and forgetting the long dead) without reading every row
CREATE INDEX processes_by_beat ON processes (beat_at);
