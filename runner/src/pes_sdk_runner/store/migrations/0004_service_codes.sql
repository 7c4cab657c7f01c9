-- 0004: the partner's code of a service (код услуги), beside its name.
--
-- Same conventions as 0001: one file for both databases, blocks per database, type tokens
-- between at-signs (ID, TS, MONEY, BLOB).

-- A debt registry may give each service a code besides its name; a basket line keeps both,
-- and the payment registry carries them back, so the partner books each payment to the
-- service it was for (капремонт is accounted apart by law). The name stays the service's
-- key on the account (debts, acceptances, the ledger); the code travels with it. Rows from
-- before this migration had no code: ''.
ALTER TABLE debts ADD COLUMN service_code TEXT NOT NULL DEFAULT '';
ALTER TABLE payment_lines ADD COLUMN service_code TEXT NOT NULL DEFAULT '';
