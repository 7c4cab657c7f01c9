-- 0015: e-receipts (электронные чеки, 54-ФЗ) registered on the service's cloud register.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs;
-- money is integer kopecks. Only for an acquirer that does not fiscalise: one that does
-- (ЮKassa, Т-Банк, Сбербанк) takes the receipt with the payment and nothing is kept here.
--
-- One row per payment and operation (sell: приход; sell_refund: возврат прихода, one per
-- refund), keyed at the register by external_id (the order id for a sale,
-- 'refund:<order id>:<n>' for its n-th refund): sending it again never makes a second
-- receipt. status: wait (accepted or about to be sent: uuid NULL until the
-- register answered) → done (the fiscal attributes) or failed (error_code and
-- error_field say why; an operator decides). No buyer's contact is kept here: it waits in
-- notification_contacts under client_id 'receipt:<order id>' only until the receipt's
-- e-mail is sent (docs/receipts.md).
CREATE TABLE fiscal_receipts (
    order_id        TEXT NOT NULL,
    operation       TEXT NOT NULL CHECK (operation IN ('sell', 'sell_refund')),
    refund_no       INTEGER NOT NULL CHECK (refund_no >= 0),  -- 0: the sale; n: its n-th refund
    external_id     TEXT NOT NULL,
    register        TEXT NOT NULL,       -- the register plugin's name ('atol')
    client_id       TEXT,                -- who paid (app's client or cabinet:<id>), or NULL
    status          TEXT NOT NULL CHECK (status IN ('wait', 'done', 'failed')),
    uuid            TEXT,                -- the register's id of the document
    fn              TEXT,                -- ФН (tag 1041)
    fd              BIGINT,              -- ФД (tag 1040)
    fp              BIGINT,              -- ФП (tag 1077)
    shift           INTEGER,             -- номер смены (tag 1038)
    number          INTEGER,             -- номер чека за смену (tag 1042)
    registered_at   @TS@,                -- when the register printed it (tag 1012)
    total           INTEGER NOT NULL CHECK (total > 0),  -- kopecks: the receipt's total
    parts           TEXT,                -- a refund's: JSON {"<line index>": "<amount>"}
    kkt_number      TEXT,                -- регистрационный номер ККТ (tag 1037)
    check_url       TEXT,                -- the receipt at the ОФД
    error_code      TEXT,                -- the register's code, or ours (no-contact, …)
    error_field     TEXT,                -- the field the register named, if any
    attempts        INTEGER NOT NULL DEFAULT 0,
    mailed_at       @TS@,                -- the client's e-mail was queued
    created_at      @TS@ NOT NULL,
    updated_at      @TS@ NOT NULL,
    CHECK ((operation = 'sell') = (refund_no = 0)),
    PRIMARY KEY (order_id, refund_no),
    UNIQUE (register, external_id)
);
CREATE INDEX fiscal_receipts_by_status ON fiscal_receipts (status, updated_at);
CREATE INDEX fiscal_receipts_by_client ON fiscal_receipts (client_id, created_at);
