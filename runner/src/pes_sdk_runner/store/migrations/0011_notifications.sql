-- 0011: notifications (уведомления): client devices, contacts, opt-outs and messages.
--
-- Same conventions as 0001: one file for both databases, type tokens between at-signs.
-- A push token, a phone and an e-mail address are personal data (152-ФЗ): they are kept
-- here only, never written to logs, and deleted with the client (Store.forget_recipient).

-- Push devices a client app registered (POST /v1/devices). One row per provider token:
-- the same token registered again (a reinstall, another client on the phone) moves the row.
-- A token the provider called dead (FCM UNREGISTERED, APNs 410) is deleted at once.
CREATE TABLE devices (
    id            @ID@,
    client_id     TEXT NOT NULL,         -- app-scoped, as acceptances.client_id
    provider      TEXT NOT NULL CHECK (provider IN ('fcm', 'apns', 'rustore', 'webpush')),
    token         TEXT NOT NULL,
    app           TEXT NOT NULL,         -- the client app's bundle or package id
    time_zone     TEXT,                  -- IANA name the app reported, or NULL
    created_at    @TS@ NOT NULL,
    last_seen_at  @TS@ NOT NULL,
    UNIQUE (provider, token)
);
CREATE INDEX devices_by_client ON devices (client_id);

-- Where SMS and e-mail reach a client, and its own time zone (quiet hours); each NULL
-- when unknown (a cabinet client's phone is its cabinet's).
CREATE TABLE notification_contacts (
    client_id   TEXT PRIMARY KEY,
    phone       TEXT,
    email       TEXT,
    time_zone   TEXT,
    updated_at  @TS@ NOT NULL
);

-- A client's opt-out of one kind of message (charges, debts, news, …): no row, no opt-out.
CREATE TABLE notification_preferences (
    client_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    opted_out   INTEGER NOT NULL CHECK (opted_out IN (0, 1)),
    updated_at  @TS@ NOT NULL,
    PRIMARY KEY (client_id, kind)
);

-- What one source (a campaign, a trigger's run) says: written once, read by every message.
-- body is the pes_sdk Notification's content as JSON (title, text, image, buttons, data,
-- collapse); text may name per-recipient $fields (messages.params).
CREATE TABLE message_templates (
    id          @ID@,
    source      TEXT NOT NULL UNIQUE,    -- 'campaign:42', 'trigger:charges:…'
    kind        TEXT NOT NULL,           -- the kind of message (charges, news, …)
    body        TEXT NOT NULL,
    created_at  @TS@ NOT NULL
);

-- One row per recipient and device (push) or transport (sms, email): the idempotency key
-- (source, client_id, target) is unique, so a source never sends a key twice however often
-- its rows are written. status: queued → sending (claimed by one workflow) → sent, failed,
-- dead (the token or address no longer exists) or unsure (a crash between the request and
-- its answer, on a channel that cannot take a repeat: docs/runner-crash-safety.md);
-- skipped (reason: opt-out, throttle, no-contact, no-channel). A queued row with
-- not_before waits for the end of the client's quiet hours.
CREATE TABLE messages (
    id              @ID@,
    source          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    target          TEXT NOT NULL,       -- 'device:<id>', 'sms' or 'email'
    template_id     BIGINT NOT NULL REFERENCES message_templates (id),
    kind            TEXT NOT NULL,       -- the template's, kept for the statistics
    transport       TEXT NOT NULL CHECK (transport IN ('push', 'sms', 'email')),
    device_id       BIGINT,              -- push: the device (no reference: dead ones go)
    params          TEXT,                -- JSON object of per-recipient $fields, or NULL
    channel         TEXT,                -- the configured channel that took it
    status          TEXT NOT NULL CHECK (status IN
                    ('queued', 'sending', 'sent', 'failed', 'dead', 'skipped', 'unsure')),
    reason          TEXT,                -- why not sent: a code, never personal data
    provider_id     TEXT,                -- the provider's message id
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_by      TEXT,                -- the workflow that claimed it
    claimed_at      @TS@,
    not_before      @TS@,
    queued_at       @TS@ NOT NULL,
    sent_at         @TS@,
    delivered_at    @TS@,                -- reported by the client app, later
    opened_at       @TS@,
    clicked_at      @TS@,
    clicked_button  INTEGER,
    UNIQUE (source, client_id, target)
);
-- the statistics: per source, per day, per channel
CREATE INDEX messages_by_source ON messages (source, status);
CREATE INDEX messages_by_day ON messages (queued_at);
CREATE INDEX messages_by_channel ON messages (channel, queued_at);
-- the throttle: a client's messages sent in the last day
CREATE INDEX messages_by_client ON messages (client_id, sent_at);
