-- 0002: who created a payment, operators' refund requests, and meter readings.
--
-- Same conventions as 0001: one file for both databases, blocks per database, type tokens
-- between at-signs (ID, TS, MONEY, BLOB).

-- The client app that created a payment: the digest of its token (api.app_id), never the
-- token. Written by the API before the payment is booked (order ids derive from the app and
-- its Idempotency-Key, so the id is known first); hence no foreign key to payments: a row
-- whose create never reached the book is harmless, a payment without its row is not.
CREATE TABLE payment_apps (
    order_id    TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL,
    created_at  @TS@ NOT NULL
);

-- An operator's refund request (возврат) by its Idempotency-Key: a retry finds the refund it
-- started. refund_no is the processor's refund number (its key ends in -r<refund_no>).
CREATE TABLE refund_requests (
    order_id    TEXT NOT NULL REFERENCES payments (order_id),
    request_key TEXT NOT NULL,
    request     TEXT NOT NULL,           -- the canonical request, JSON
    refund_no   INTEGER NOT NULL CHECK (refund_no >= 1),
    created_at  @TS@ NOT NULL,
    PRIMARY KEY (order_id, request_key)
);

-- Refund entries of a payment are found by order id (allocation over its lines).
CREATE INDEX ledger_by_order ON ledger (order_id) WHERE order_id IS NOT NULL;

-- Photos of meters, kept once per content (sha256 of the bytes).
CREATE TABLE reading_photos (
    sha256      TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    media_type  TEXT NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png')),
    size        INTEGER NOT NULL CHECK (size > 0),
    data        @BLOB@ NOT NULL,
    created_at  @TS@ NOT NULL
);

-- Meter readings (показания приборов учёта): append-only, a correction is a new row. For
-- one meter and date the newest row counts.
CREATE TABLE meter_readings (
    id               @ID@,
    client_id        TEXT NOT NULL,      -- app-scoped client id, as acceptances.client_id
    partner_inn      TEXT NOT NULL REFERENCES partners (inn),
    account          TEXT NOT NULL,
    meter_number     TEXT NOT NULL,
    meter_type       INTEGER NOT NULL CHECK (meter_type BETWEEN 1 AND 13),
    service          TEXT NOT NULL,
    house_id         TEXT,
    meter_values     TEXT NOT NULL,      -- JSON array of decimal strings, exact (T1..T3)
    taken_on         TEXT NOT NULL,      -- YYYY-MM-DD
    photo_sha256     TEXT REFERENCES reading_photos (sha256),
    decrease_reason  TEXT CHECK (decrease_reason IN ('rollover', 'replaced')),
    received_at      @TS@ NOT NULL
);
CREATE INDEX meter_readings_by_account ON meter_readings (partner_inn, account, taken_on);

-- @sqlite:begin
CREATE TRIGGER meter_readings_no_update BEFORE UPDATE ON meter_readings
BEGIN
    SELECT RAISE(ABORT, 'meter_readings is append-only: readings are never updated');
END;
CREATE TRIGGER meter_readings_no_delete BEFORE DELETE ON meter_readings
BEGIN
    SELECT RAISE(ABORT, 'meter_readings is append-only: readings are never deleted');
END;
-- @sqlite:end

-- @postgresql:begin
CREATE FUNCTION meter_readings_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'meter_readings is append-only: readings are never %', lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER meter_readings_no_update_delete BEFORE UPDATE OR DELETE ON meter_readings
    FOR EACH ROW EXECUTE FUNCTION meter_readings_append_only();
CREATE TRIGGER meter_readings_no_truncate BEFORE TRUNCATE ON meter_readings
    FOR EACH STATEMENT EXECUTE FUNCTION meter_readings_append_only();
-- @postgresql:end
