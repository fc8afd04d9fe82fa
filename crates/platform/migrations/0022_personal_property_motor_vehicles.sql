-- Assessment: personal property declarations and motor vehicles, the two
-- other parts of the October 1 grand list (docs/design/0011-personal-property-motor-vehicles.md).
--
-- A business declares its taxable personal property by November 1 (CGS 12-41);
-- a declaration filed late, or made up by the assessor when none is filed,
-- carries a 25 % penalty on the assessment (CGS 12-41(d), 12-42(b)). Motor
-- vehicles come from the DMV's registration file for October 1, priced at
-- 70 % of their average retail value; their mill rate is capped (CGS 12-71e).

CREATE TABLE assessment_pp_declarations (
    id               TEXT PRIMARY KEY,
    municipality_id  TEXT NOT NULL,
    list_year        BIGINT NOT NULL,
    account          TEXT NOT NULL,
    business         TEXT NOT NULL,
    owner            TEXT NOT NULL,
    location         TEXT NOT NULL,
    mailing_address  TEXT NOT NULL,
    -- `filed` by the owner, or `estimated` by the assessor when none was filed.
    source           TEXT NOT NULL,
    filed_on         TEXT NOT NULL,
    extended_to      TEXT NOT NULL,
    assessed_cents   BIGINT NOT NULL,
    penalty_cents    BIGINT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    UNIQUE (municipality_id, list_year, account)
);

CREATE TABLE assessment_pp_lines (
    declaration_id   TEXT NOT NULL REFERENCES assessment_pp_declarations (id),
    municipality_id  TEXT NOT NULL,
    category         TEXT NOT NULL,
    value_cents      BIGINT NOT NULL,
    assessed_cents   BIGINT NOT NULL,
    PRIMARY KEY (declaration_id, category)
);

CREATE TABLE assessment_motor_vehicles (
    municipality_id  TEXT NOT NULL,
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
    import_id        TEXT NOT NULL,
    PRIMARY KEY (municipality_id, list_year, vin)
);

-- What a bill needs besides the parcel: a vehicle's description, VIN and
-- plate, or a business's name.
ALTER TABLE assessment_grand_list_items ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE assessment_grand_list_items ADD COLUMN vin TEXT NOT NULL DEFAULT '';
ALTER TABLE assessment_grand_list_items ADD COLUMN plate TEXT NOT NULL DEFAULT '';
-- The motor-vehicle mill rate (empty: the list's rate, capped by CGS 12-71e).
ALTER TABLE assessment_grand_lists ADD COLUMN mv_mill_rate TEXT NOT NULL DEFAULT '';
