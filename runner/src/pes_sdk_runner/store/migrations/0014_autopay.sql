-- 0014: autopay (автоплатёж): the clients' consents, the methods acquirers saved, the charges.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.
-- Money is integer kopecks. Nothing here is card data: a saved method is the acquirer's
-- handle (ЮKassa payment_method.id, Т-Банк RebillId, Сбербанк bindingId) and at most the
-- card's last four digits.

-- The method an acquirer saved on a payment the client agreed to autopay on: learned from
-- the paid snapshot or its webhook (Т-Банк tells RebillId in its notification only).
CREATE TABLE saved_methods (
    order_id      TEXT PRIMARY KEY,
    gateway       TEXT NOT NULL,
    method_id     TEXT NOT NULL,
    customer_key  TEXT NOT NULL,
    title         TEXT NOT NULL,
    learned_at    @TS@ NOT NULL
);

-- What a client agreed to when paying with "Подключить автоплатёж" ticked: the consent
-- comes into force (autopay_consents, version 1) in the transaction that learns the method
-- the acquirer saved on that payment; a payment that fails leaves the request unused.
CREATE TABLE autopay_requests (
    order_id        TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    partner_inn     TEXT NOT NULL,
    account         TEXT NOT NULL,
    rule            TEXT NOT NULL CHECK (rule IN ('on_registry', 'day_of_month')),
    day             INTEGER CHECK (day IS NULL OR (day BETWEEN 1 AND 28)),
    monthly_limit   INTEGER NOT NULL CHECK (monthly_limit > 0),
    text            TEXT NOT NULL,
    text_version    TEXT NOT NULL,
    agreed_at       @TS@ NOT NULL
);

-- Consents (согласия), append-only: a change, a new method or a cancellation is a new
-- version of the same consent_id, never an update; the latest version is the one in force.
-- text and text_version are exactly what the client agreed to, at agreed_at.
CREATE TABLE autopay_consents (
    consent_id      TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    client_id       TEXT NOT NULL,
    partner_inn     TEXT NOT NULL,
    account         TEXT NOT NULL,
    rule            TEXT NOT NULL CHECK (rule IN ('on_registry', 'day_of_month')),
    day             INTEGER CHECK (day IS NULL OR (day BETWEEN 1 AND 28)),
    monthly_limit   INTEGER NOT NULL CHECK (monthly_limit > 0),
    gateway         TEXT NOT NULL,
    method_id       TEXT NOT NULL,
    customer_key    TEXT NOT NULL,
    method_title    TEXT NOT NULL,
    text            TEXT NOT NULL,
    text_version    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    agreed_at       @TS@ NOT NULL,
    PRIMARY KEY (consent_id, version)
);
CREATE INDEX autopay_consents_by_client ON autopay_consents (client_id);
CREATE INDEX autopay_consents_by_account ON autopay_consents (partner_inn, account);

-- One charge per consent and period (UNIQUE): planned with its notice, then charged by its
-- workflow's rounds. state: noticed -> charging -> paid | failed; noticed -> cancelled | over_limit |
-- nothing_due. attempts counts charges sent to the acquirer (at most the configured
-- number); order_id is the latest attempt's payment (payments.order_id).
CREATE TABLE autopay_charges (
    charge_id        TEXT PRIMARY KEY,
    consent_id       TEXT NOT NULL,
    consent_version  INTEGER NOT NULL,
    client_id        TEXT NOT NULL,
    partner_inn      TEXT NOT NULL,
    account          TEXT NOT NULL,
    period           TEXT NOT NULL,
    amount           INTEGER NOT NULL CHECK (amount >= 0),
    noticed_at       @TS@ NOT NULL,
    due_at           @TS@ NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('noticed', 'charging', 'paid', 'failed',
                     'cancelled', 'over_limit', 'nothing_due')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    order_id         TEXT,
    reason           TEXT,
    -- a charge's workflow runs in rounds: each ends when the charge must wait (the notice
    -- period, the acquirer's pending answer, a pause before the next attempt) and sets
    -- next_at; the tick queues round n+1 (workflow autopay:<charge>:<round>) once it has
    -- come. next_attempt: the attempt the next round sends after a decline (0: none).
    next_at          @TS@,
    round            INTEGER NOT NULL DEFAULT 0,
    next_attempt     INTEGER NOT NULL DEFAULT 0,
    updated_at       @TS@ NOT NULL,
    UNIQUE (consent_id, period)
);
CREATE INDEX autopay_charges_due ON autopay_charges (state, due_at);
CREATE INDEX autopay_charges_by_client ON autopay_charges (client_id);
