-- Assessment: OPM's published real-estate sales (public data, kept region-wide)
-- for the regional ratio-study dashboard. A sale is keyed as OPM keys it: town,
-- list year and serial number; a later import of the same sale replaces it
-- (OPM republishes corrections). Every import is recorded with its SHA-256 so a
-- file cannot be imported twice.

CREATE TABLE assessment_opm_imports (
    id          TEXT NOT NULL PRIMARY KEY,
    file_name   TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    rows        BIGINT NOT NULL,
    added       BIGINT NOT NULL,
    replaced    BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE assessment_opm_sales (
    town             TEXT NOT NULL,
    list_year        BIGINT NOT NULL,
    serial_number    TEXT NOT NULL,
    recorded_on      TEXT NOT NULL,
    address          TEXT NOT NULL,
    assessed_cents   BIGINT NOT NULL,
    price_cents      BIGINT NOT NULL,
    property_type    TEXT NOT NULL,
    residential_type TEXT NOT NULL,
    non_use_code     TEXT NOT NULL,
    import_id        TEXT NOT NULL REFERENCES assessment_opm_imports (id),
    PRIMARY KEY (town, list_year, serial_number)
);

CREATE INDEX assessment_opm_sales_year ON assessment_opm_sales (list_year, property_type);
