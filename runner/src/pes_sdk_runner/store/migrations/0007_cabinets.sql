-- 0007: client cabinets (личный кабинет): login by phone, sessions, linked accounts.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.
-- A phone number is personal data (152-ФЗ): it is kept in cabinets and in the login
-- attempts of the last day only, and goes with the cabinet (Store.delete_cabinet). Codes
-- and session tokens are never stored, only their HMAC-SHA256 (pes_sdk_runner.cabinet).

-- One cabinet per phone, created at its first login.
CREATE TABLE cabinets (
    id          @ID@,
    phone       TEXT NOT NULL UNIQUE,    -- E.164: +7XXXXXXXXXX
    created_at  @TS@ NOT NULL
);

-- A code sent: the client confirms it by the attempt's id. Counted by phone and by client
-- IP for the limits; purged a day after it was made (the longest limit's window).
CREATE TABLE login_attempts (
    id          TEXT PRIMARY KEY,        -- random, URL-safe: the client's handle
    phone       TEXT NOT NULL,
    code_hash   TEXT NOT NULL,           -- HMAC-SHA256(secret, id:code), hex
    client_ip   TEXT NOT NULL,
    created_at  @TS@ NOT NULL,
    expires_at  @TS@ NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 0 CHECK (tries >= 0),
    used_at     @TS@                     -- set once: a code is used once
);
CREATE INDEX login_attempts_by_phone ON login_attempts (phone, created_at);
CREATE INDEX login_attempts_by_ip ON login_attempts (client_ip, created_at);
CREATE INDEX login_attempts_by_time ON login_attempts (created_at);

-- Server-side sessions: a token is good while the row is not ended and neither timeout
-- (idle since last_seen_at, absolute since created_at) has passed.
CREATE TABLE cabinet_sessions (
    token_hash    TEXT PRIMARY KEY,      -- HMAC-SHA256(secret, token), hex
    cabinet_id    BIGINT NOT NULL REFERENCES cabinets (id) ON DELETE CASCADE,
    created_at    @TS@ NOT NULL,
    last_seen_at  @TS@ NOT NULL,
    ended_at      @TS@
);
CREATE INDEX cabinet_sessions_by_cabinet ON cabinet_sessions (cabinet_id);

-- The partners' accounts a cabinet proved it holds (Мои лицевые счета).
CREATE TABLE cabinet_accounts (
    cabinet_id   BIGINT NOT NULL REFERENCES cabinets (id) ON DELETE CASCADE,
    partner_inn  TEXT NOT NULL,
    account      TEXT NOT NULL,
    linked_at    @TS@ NOT NULL,
    PRIMARY KEY (cabinet_id, partner_inn, account)
);

-- Attempts to link an account, for the limit on failed ones.
CREATE TABLE link_attempts (
    id          @ID@,
    cabinet_id  BIGINT NOT NULL REFERENCES cabinets (id) ON DELETE CASCADE,
    succeeded   INTEGER NOT NULL CHECK (succeeded IN (0, 1)),
    at          @TS@ NOT NULL
);
CREATE INDEX link_attempts_by_cabinet ON link_attempts (cabinet_id, at);
