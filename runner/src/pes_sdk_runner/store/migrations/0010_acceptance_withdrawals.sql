-- 0010: a client's tick (галочка-акцепт) may be withdrawn: unticking, in the cabinet, a
-- service that was ticked on its own.
--
-- Same conventions as 0001. A tick is a record of consent: withdrawn, it stops counting
-- (the row leaves acceptances, whose unique key is then free for a new tick) and is kept
-- here with when it was withdrawn. It goes with the cabinet (Store.delete_cabinet).
CREATE TABLE acceptance_withdrawals (
    id            @ID@,
    client_id     TEXT NOT NULL,
    partner_inn   TEXT NOT NULL,
    account       TEXT NOT NULL,
    service       TEXT NOT NULL,
    house_id      TEXT,
    premises      TEXT NOT NULL,
    accepted_at   @TS@ NOT NULL,
    withdrawn_at  @TS@ NOT NULL
);
CREATE INDEX acceptance_withdrawals_by_client ON acceptance_withdrawals (client_id);
