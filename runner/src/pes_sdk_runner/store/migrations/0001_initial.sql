-- 0001: the runner's first schema.
--
-- One file for both databases. The migrator (store/migrate.py) keeps only the blocks marked
-- for the database it runs on, and the dialect layer (store/dialect.py) replaces the column
-- type tokens written between at-signs: ID (an auto-numbered primary key), TS (a UTC
-- timestamp: ISO text / TIMESTAMPTZ), MONEY (integer kopecks, 64-bit), BLOB (BLOB / BYTEA).
-- Money is always integer kopecks here; the Python interface speaks Decimal.

CREATE TABLE partners (
    inn         TEXT PRIMARY KEY,
    kpp         TEXT,
    name        TEXT NOT NULL,
    data        TEXT NOT NULL,           -- the pes_sdk Partner as JSON (bank details, fee terms)
    updated_at  @TS@ NOT NULL
);

-- Debt registries (реестры задолженности) received, active or superseded.
CREATE TABLE debt_registries (
    id            @ID@,
    partner_inn   TEXT NOT NULL REFERENCES partners (inn),
    period        TEXT NOT NULL,         -- YYYY-MM; sorts as text
    number        INTEGER NOT NULL CHECK (number >= 1),
    received_at   @TS@ NOT NULL,
    sha256        TEXT NOT NULL,
    record_count  INTEGER NOT NULL,
    total         @MONEY@ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'superseded')),
    UNIQUE (partner_inn, period, number)
);
-- at most one active registry per partner and period
CREATE UNIQUE INDEX debt_registries_one_active
    ON debt_registries (partner_inn, period) WHERE status = 'active';

-- The active registries' records. A superseded registry's debts are deleted with the swap.
CREATE TABLE debts (
    registry_id   BIGINT NOT NULL REFERENCES debt_registries (id),
    partner_inn   TEXT NOT NULL,
    account       TEXT NOT NULL,
    service       TEXT NOT NULL,
    house_id      TEXT NOT NULL,
    premises      TEXT NOT NULL,         -- as the partner wrote it
    premises_key  TEXT NOT NULL,         -- pes_sdk.premises.matching_key(premises)
    amount        @MONEY@ NOT NULL,
    period        TEXT                   -- the row's own period, when it names one
);
CREATE INDEX debts_by_address ON debts (house_id, premises_key);
CREATE INDEX debts_by_account ON debts (partner_inn, account);
CREATE INDEX debts_by_registry ON debts (registry_id);

-- A client's confirmed link to a partner service (галочка-акцепт in the cabinet).
CREATE TABLE acceptances (
    id           @ID@,
    client_id    TEXT NOT NULL,
    partner_inn  TEXT NOT NULL REFERENCES partners (inn),
    account      TEXT NOT NULL,
    service      TEXT NOT NULL,
    house_id     TEXT,
    premises     TEXT NOT NULL,
    accepted_at  @TS@ NOT NULL,
    UNIQUE (client_id, partner_inn, account, service)
);

-- The processor's book (pes_sdk.gateways.processor.PaymentStore).
CREATE TABLE payments (
    order_id            TEXT PRIMARY KEY,
    idempotency_key     TEXT NOT NULL UNIQUE,
    method              TEXT NOT NULL,
    state               TEXT NOT NULL,
    total               @MONEY@ NOT NULL,
    refunded            @MONEY@ NOT NULL,
    gateway_payment_id  TEXT,
    confirmation        TEXT,            -- JSON
    pending_refund      TEXT,            -- JSON: [key, RefundRequest]
    refund_count        INTEGER NOT NULL,
    created_at          @TS@ NOT NULL,
    updated_at          @TS@ NOT NULL
);
CREATE UNIQUE INDEX payments_by_gateway_id ON payments (gateway_payment_id)
    WHERE gateway_payment_id IS NOT NULL;
CREATE INDEX payments_by_state ON payments (state, updated_at);

CREATE TABLE payment_lines (
    order_id     TEXT NOT NULL REFERENCES payments (order_id),
    line_no      INTEGER NOT NULL,
    partner_inn  TEXT NOT NULL,
    account      TEXT NOT NULL,
    service      TEXT NOT NULL,
    house_id     TEXT,
    premises     TEXT NOT NULL,
    period       TEXT,
    amount       @MONEY@ NOT NULL CHECK (amount > 0),
    client_fee   @MONEY@ NOT NULL CHECK (client_fee >= 0),
    refunded     @MONEY@ NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX payment_lines_by_account ON payment_lines (partner_inn, account);

-- The append-only ledger (журнал движений): never updated, never deleted; totals are SUMs.
CREATE TABLE ledger (
    id           @ID@,
    at           @TS@ NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'refund', 'fee', 'transfer')),
    partner_inn  TEXT NOT NULL,
    account      TEXT,
    service      TEXT NOT NULL,
    order_id     TEXT,
    registry_id  BIGINT,                 -- the payment registry a fee or transfer belongs to
    amount       @MONEY@ NOT NULL CHECK (amount > 0),
    ref          TEXT UNIQUE,            -- idempotency reference: appending it twice is a no-op
    memo         TEXT NOT NULL
);
CREATE INDEX ledger_by_account ON ledger (partner_inn, account, service, at);
CREATE INDEX ledger_by_partner ON ledger (partner_inn, at);

-- @sqlite:begin
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: entries are never updated');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: entries are never deleted');
END;
-- @sqlite:end

-- @postgresql:begin
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: entries are never %', lower(TG_OP)
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER ledger_no_update_delete BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
-- @postgresql:end

-- Payment registries (реестры оплат), numbered without gaps per partner: the counter row
-- is bumped in the same transaction that inserts the registry.
CREATE TABLE payment_registry_counters (
    partner_inn  TEXT PRIMARY KEY REFERENCES partners (inn),
    last_number  INTEGER NOT NULL
);

CREATE TABLE payment_registries (
    id            @ID@,
    partner_inn   TEXT NOT NULL REFERENCES partners (inn),
    number        INTEGER NOT NULL CHECK (number >= 1),
    day           TEXT NOT NULL,         -- YYYY-MM-DD, the closed day
    created_at    @TS@ NOT NULL,
    record_count  INTEGER NOT NULL,
    amount        @MONEY@ NOT NULL,
    fee           @MONEY@ NOT NULL,
    transfer      @MONEY@ NOT NULL,
    CHECK (amount = fee + transfer),
    UNIQUE (partner_inn, number),
    UNIQUE (partner_inn, day)
);

-- Handing a payment registry over to its partner through a channel.
CREATE TABLE deliveries (
    id               @ID@,
    registry_id      BIGINT NOT NULL REFERENCES payment_registries (id),
    channel          TEXT NOT NULL,
    target           TEXT NOT NULL,
    status           TEXT NOT NULL
                     CHECK (status IN ('pending', 'delivered', 'acknowledged', 'failed')),
    attempts         INTEGER NOT NULL,
    last_error       TEXT,
    created_at       @TS@ NOT NULL,
    updated_at       @TS@ NOT NULL,
    acknowledged_at  @TS@,
    UNIQUE (registry_id, channel)
);
CREATE INDEX deliveries_by_status ON deliveries (status);
