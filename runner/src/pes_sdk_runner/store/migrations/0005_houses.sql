-- 0005: the house directory (справочник домов), and debts with no house.
--
-- Same conventions as 0001: one file for both databases, blocks per database, type tokens
-- between at-signs (ID, TS, MONEY, BLOB).

-- The houses of the service's region: GUID -> address, from the ФНС ГАР (ФИАС) export or
-- an operator's CSV (`pes runner houses import-gar` / `import-csv`). A debt registry that
-- writes the address as text is resolved through it at ingest (docs/house-directory.md).
-- house_key and street_key are pes_sdk.addresses.Address.key / .street_key of the address;
-- street_type tells apart two streets of one name (ул. Ленина, пер. Ленина).
CREATE TABLE houses (
    guid         TEXT PRIMARY KEY,       -- ГАР OBJECTGUID / ФИАС HOUSEGUID, lower case
    address      TEXT NOT NULL,          -- the address as the source wrote or ГАР composes it
    house_key    TEXT NOT NULL,          -- place|street|house
    street_key   TEXT NOT NULL,          -- street|house, for text that names no locality
    street_type  TEXT NOT NULL,          -- ул, пр-кт, … or '' when the source gave none
    source       TEXT NOT NULL,          -- 'gar' or 'csv'
    updated_at   @TS@ NOT NULL
);
CREATE INDEX houses_by_key ON houses (house_key);
CREATE INDEX houses_by_street_key ON houses (street_key);

-- A debt may have no house: a registry that gives neither a house GUID nor an address
-- (Sberbank's minimal ЛС;ФИО;сумма) is found by its account only. NULL, not a sentinel
-- such as '': "no house" must never equal another debt's "no house" in an address look-up
-- (NULL = NULL is not true), and the column says what it means.
-- PostgreSQL drops the constraint in place. SQLite cannot alter a column's constraint: the
-- table is rebuilt (copied once; nothing references debts, so no foreign key is touched).
-- @postgresql:begin
ALTER TABLE debts ALTER COLUMN house_id DROP NOT NULL;
-- @postgresql:end

-- @sqlite:begin
CREATE TABLE debts_0005 (
    registry_id   BIGINT NOT NULL REFERENCES debt_registries (id),
    partner_inn   TEXT NOT NULL,
    account       TEXT NOT NULL,
    service       TEXT NOT NULL,
    house_id      TEXT,                  -- NULL: found by account only
    premises      TEXT NOT NULL,
    premises_key  TEXT NOT NULL,
    amount        @MONEY@ NOT NULL,
    period        TEXT,
    service_code  TEXT NOT NULL DEFAULT ''
);
INSERT INTO debts_0005 (registry_id, partner_inn, account, service, house_id, premises,
                        premises_key, amount, period, service_code)
    SELECT registry_id, partner_inn, account, service, house_id, premises, premises_key,
           amount, period, service_code
      FROM debts;
DROP TABLE debts;
ALTER TABLE debts_0005 RENAME TO debts;
CREATE INDEX debts_by_address ON debts (house_id, premises_key);
CREATE INDEX debts_by_account ON debts (partner_inn, account);
CREATE INDEX debts_by_registry ON debts (registry_id);
-- @sqlite:end

-- `pes runner status` names the partners whose services cannot be found by address.
CREATE INDEX debts_without_house ON debts (partner_inn) WHERE house_id IS NULL;
