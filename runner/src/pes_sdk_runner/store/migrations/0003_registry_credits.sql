-- 0003: when a payment was captured, and which payment registry carries each credit.
--
-- Same conventions as 0001: one file for both databases, blocks per database, type tokens
-- between at-signs (ID, TS, MONEY, BLOB).

-- The acquirer's capture time (or the moment the service learned of the payment, where the
-- protocol tells none): the ledger credits of a paid payment are booked at it, so a payment
-- belongs to the partner-day its bank statement shows. NULL until the payment is paid, and
-- for payments paid before this migration (their credits are at their confirmation time).
ALTER TABLE payments ADD COLUMN paid_at @TS@;

-- One row per ledger credit, made with it (the triggers below): the payment registry that
-- carries it, or NULL while none does. A day's close takes the open credits up to its
-- window's end, whatever their time, so a credit booked into a day already closed (a
-- payment captured before the cut-off and confirmed after the close) goes into the next
-- registry instead of none; the registry is recorded together with the credits it takes,
-- so a re-close rebuilds it from exactly these rows.
-- No foreign key to the ledger: its rows are never removed anyway, and one would change
-- how PostgreSQL refuses a TRUNCATE of it (before its append-only trigger speaks).
CREATE TABLE registry_credits (
    ledger_id    BIGINT PRIMARY KEY,
    partner_inn  TEXT NOT NULL,
    at           @TS@ NOT NULL,          -- the credit's time, as in the ledger
    registry_id  BIGINT REFERENCES payment_registries (id),
    -- booked before this migration: carried by the registries of that time by their window
    -- (the rule before 0003), not by these rows
    legacy       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX registry_credits_open ON registry_credits (partner_inn, at) WHERE registry_id IS NULL;
CREATE INDEX registry_credits_by_registry ON registry_credits (registry_id);

INSERT INTO registry_credits (ledger_id, partner_inn, at, legacy)
    SELECT id, partner_inn, at, TRUE FROM ledger WHERE kind = 'credit';

-- @sqlite:begin
CREATE TRIGGER ledger_credit_opens AFTER INSERT ON ledger WHEN NEW.kind = 'credit'
BEGIN
    INSERT INTO registry_credits (ledger_id, partner_inn, at)
        VALUES (NEW.id, NEW.partner_inn, NEW.at);
END;
-- @sqlite:end

-- @postgresql:begin
CREATE FUNCTION ledger_credit_opens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO registry_credits (ledger_id, partner_inn, at)
        VALUES (NEW.id, NEW.partner_inn, NEW.at);
    RETURN NULL;
END
$$;
CREATE TRIGGER ledger_credit_opens AFTER INSERT ON ledger
    FOR EACH ROW WHEN (NEW.kind = 'credit') EXECUTE FUNCTION ledger_credit_opens();
-- @postgresql:end
