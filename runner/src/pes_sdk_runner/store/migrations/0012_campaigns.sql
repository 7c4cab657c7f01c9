-- 0012: partner campaigns (рассылки партнёров: новости и акции) and the statistics' indexes.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.
-- A campaign is an operator's: what a partner says to its clients (title, text, an image,
-- up to three buttons), to whom (audience) and when (starts_at). Its messages are rows of
-- messages (0011) whose source is 'campaign:<id>'.
--
-- state: draft → scheduled → sending → done, or cancelled before done. The fleet's tick
-- starts a scheduled campaign once its starts_at has come (one workflow 'campaign:<id>').
CREATE TABLE campaigns (
    id            @ID@,
    partner_inn   TEXT NOT NULL REFERENCES partners (inn),
    kind          TEXT NOT NULL CHECK (kind IN ('news', 'promo')),
    title         TEXT NOT NULL,
    text          TEXT NOT NULL,
    image         TEXT,                  -- https URL, its size and type checked at creation
    buttons       TEXT NOT NULL,         -- JSON [[label, https URL], …], at most three
    audience      TEXT NOT NULL CHECK (audience IN ('all', 'debtors', 'houses')),
    houses        TEXT NOT NULL,         -- JSON [FIAS GUID, …] of audience 'houses', else []
    starts_at     @TS@,                  -- NULL in a draft without a schedule
    state         TEXT NOT NULL CHECK (state IN
                  ('draft', 'scheduled', 'sending', 'done', 'cancelled')),
    targeted      INTEGER,               -- clients written when it was done
    created_at    @TS@ NOT NULL,
    updated_at    @TS@ NOT NULL,
    started_at    @TS@,
    finished_at   @TS@
);
-- the tick: scheduled campaigns whose start has come
CREATE INDEX campaigns_due ON campaigns (state, starts_at);
CREATE INDEX campaigns_by_partner ON campaigns (partner_inn, id);

-- The audience: a partner's acceptors (the unique key starts with the client), streamed in
-- client order.
CREATE INDEX acceptances_by_partner ON acceptances (partner_inn, client_id);
-- paid within 72 hours: a client's opened messages before a payment
CREATE INDEX messages_opened_by_client ON messages (client_id, opened_at);
