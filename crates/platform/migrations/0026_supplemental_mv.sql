-- Assessment: the supplemental motor-vehicle list (CGS 12-71b;
-- docs/design/0011-personal-property-motor-vehicles.md).
--
-- A vehicle registered after October 1 and before August 1 of the next year
-- is taxed on the supplemental list of that assessment year, for the months
-- from the first of its month of registration to the next October 1, due
-- January 1 after the year ends. The DMV's supplemental file is imported
-- into `assessment_supplemental_vehicles` (replaced as a whole while the
-- supplemental list is a draft); taking the list computes each account's
-- months, credit for a replaced vehicle and tax at the motor-vehicle rate
-- into `assessment_supplemental_items`; the assessor signs it, its bills are
-- printed one by one or all at once through the job queue, and its levy
-- posts through the ledger once.

CREATE TABLE assessment_supplemental_vehicles (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    list_year        BIGINT NOT NULL,
    vin              TEXT NOT NULL,
    plate            TEXT NOT NULL,
    model_year       BIGINT NOT NULL,
    make             TEXT NOT NULL,
    model            TEXT NOT NULL,
    owner            TEXT NOT NULL,
    mailing_address  TEXT NOT NULL,
    retail_cents     BIGINT NOT NULL,
    assessed_cents   BIGINT NOT NULL,
    -- YYYY-MM-DD, from October 2 of the list year to July 31 after it.
    registered_on    TEXT NOT NULL,
    -- The VIN of the vehicle on the regular list it replaces (the plate
    -- transferred), or empty.
    replaces_vin     TEXT NOT NULL,
    import_id        TEXT NOT NULL,
    PRIMARY KEY (municipality_id, list_year, vin)
);

CREATE TABLE assessment_supplemental_lists (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    list_year        BIGINT NOT NULL,
    -- `draft` or `signed`.
    status           TEXT NOT NULL,
    taken_at         TEXT NOT NULL,
    taken_by         TEXT NOT NULL,
    signed_at        TEXT NOT NULL,
    signed_by        TEXT NOT NULL,
    -- The motor-vehicle mill rate of the list year when taken (exact text).
    mv_mill_rate     TEXT NOT NULL,
    levy_entry_id    TEXT NOT NULL,
    -- The bulk bill run: empty, `queued`, `running`, `done` or `failed`.
    bills_status     TEXT NOT NULL,
    bills_error      TEXT NOT NULL,
    bills_blob_key   TEXT NOT NULL,
    bills_count      BIGINT NOT NULL,
    bills_made_at    TEXT NOT NULL,
    PRIMARY KEY (municipality_id, list_year)
);

CREATE TABLE assessment_supplemental_items (
    municipality_id   TEXT NOT NULL REFERENCES municipalities (id),
    list_year         BIGINT NOT NULL,
    account           TEXT NOT NULL,
    vin               TEXT NOT NULL,
    plate             TEXT NOT NULL,
    description       TEXT NOT NULL,
    owner             TEXT NOT NULL,
    mailing_address   TEXT NOT NULL,
    registered_on     TEXT NOT NULL,
    months            BIGINT NOT NULL,
    gross_cents       BIGINT NOT NULL,
    -- The replaced vehicle's account on the regular list and its assessment,
    -- credited (never above the gross).
    replaces_account  TEXT NOT NULL,
    credit_cents      BIGINT NOT NULL,
    net_cents         BIGINT NOT NULL,
    tax_cents         BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, list_year, account)
);
