-- Assessment: a town's parcel roll and its recorded sales with their
-- validation (docs/design/0006-assessment.md, "Parcels and sales").
--
-- A parcel holds its land, its main building (card 1), its current owner and
-- its appraised value of record (100 % of market value; the assessment is 70 %
-- of it). Owners keep their history; exemptions are listed by statutory
-- program. Every change is audited with before and after.

CREATE TABLE assessment_imports (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    blob_key        TEXT NOT NULL,
    rows            BIGINT NOT NULL,
    added           BIGINT NOT NULL,
    changed         BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, kind, sha256)
);

CREATE TABLE assessment_parcels (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    parcel_key      TEXT NOT NULL,
    location        TEXT NOT NULL,
    location_key    TEXT NOT NULL,
    neighbourhood   TEXT NOT NULL,
    zoning          TEXT NOT NULL,
    property_class  TEXT NOT NULL,
    land_use        TEXT NOT NULL,
    land_sqft       BIGINT NOT NULL,
    pa490           TEXT NOT NULL,
    pa490_use_cents BIGINT NOT NULL,
    style           TEXT NOT NULL,
    year_built      BIGINT NOT NULL,
    living_sqft     BIGINT NOT NULL,
    rooms           BIGINT NOT NULL,
    bedrooms        BIGINT NOT NULL,
    full_baths      BIGINT NOT NULL,
    half_baths      BIGINT NOT NULL,
    quality         BIGINT NOT NULL,
    condition       BIGINT NOT NULL,
    garage_spaces   BIGINT NOT NULL,
    land_cents      BIGINT NOT NULL,
    building_cents  BIGINT NOT NULL,
    owner           TEXT NOT NULL,
    mailing_address TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, parcel_key)
);

CREATE INDEX assessment_parcels_location ON assessment_parcels (municipality_id, location_key);

CREATE TABLE assessment_owners (
    municipality_id TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    owner           TEXT NOT NULL,
    mailing_address TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    source          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, parcel_id, seq),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE TABLE assessment_exemptions (
    municipality_id TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    program         TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, parcel_id, program),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

-- A recorded sale. `flags` are the validation rules it fails (comma-separated,
-- empty when none), recomputed after every import; `decision` is an analyst's
-- override ('' none, 'qualified' or 'unqualified') with its required note.
-- A sale is qualified when the analyst says so, or when no one has decided
-- and no rule flags it.
CREATE TABLE assessment_sales (
    municipality_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    parcel_id       TEXT NOT NULL,
    sale_date       TEXT NOT NULL,
    price_cents     BIGINT NOT NULL,
    grantor         TEXT NOT NULL,
    grantee         TEXT NOT NULL,
    deed_type       TEXT NOT NULL,
    reference       TEXT NOT NULL,
    non_use_code    TEXT NOT NULL,
    flags           TEXT NOT NULL,
    decision        TEXT NOT NULL,
    decision_note   TEXT NOT NULL,
    decided_by      TEXT NOT NULL,
    decided_at      TEXT NOT NULL,
    import_id       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, parcel_id, sale_date, price_cents),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE INDEX assessment_sales_date ON assessment_sales (municipality_id, sale_date);
