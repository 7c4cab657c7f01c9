-- 0017: the payment QR codes resolved, for the limits on them (POST /v1/qr/resolve and
-- the cabinet's «Оплатить по QR»: docs/qr.md).
--
-- Same conventions as 0001. One row per resolution let through, by who asked for it:
-- ``client`` is a digest of the asker's key (a cabinet, an app's client, or an app's
-- caller's address: pes_sdk_runner.qr_limits), never the key itself, so no address or
-- client id is kept. Every process counts the same rows, so a limit holds however many
-- runners serve the API. A row is purged a day after it was made (the longest window).
CREATE TABLE qr_resolutions (
    id      @ID@,
    client  TEXT NOT NULL,
    at      @TS@ NOT NULL
);
CREATE INDEX qr_resolutions_by_client ON qr_resolutions (client, at);
CREATE INDEX qr_resolutions_by_time ON qr_resolutions (at);
