-- Assessment: valuation model runs (docs/design/0008-model-runs.md).
--
-- A run fits a model (regression, cost, comparables) on the town's qualified
-- sales and values every parcel of the classes it covers; the job queue does
-- the work, so `status` goes queued → running → done or failed. `settings`,
-- `results` and `model` are JSON text: what was asked, the fit and ratio
-- statistics, and the fitted market model (for explanations). Each valued
-- parcel's value, its land/building split for adoption, the parcel's version
-- when valued and how the value was reached are kept per run.

CREATE TABLE assessment_model_runs (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    valuation_date   TEXT NOT NULL,
    approach         TEXT NOT NULL,
    settings         TEXT NOT NULL,
    status           TEXT NOT NULL,
    error            TEXT NOT NULL,
    parcels_valued   BIGINT NOT NULL,
    parcels_skipped  BIGINT NOT NULL,
    sales_used       BIGINT NOT NULL,
    total_cents      BIGINT NOT NULL,
    results          TEXT NOT NULL,
    model            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    finished_at      TEXT NOT NULL,
    adopted_at       TEXT NOT NULL,
    adopted_by       TEXT NOT NULL,
    version          BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);

CREATE TABLE assessment_model_run_values (
    municipality_id  TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    parcel_id        TEXT NOT NULL,
    parcel_version   BIGINT NOT NULL,
    value_cents      BIGINT NOT NULL,
    land_cents       BIGINT NOT NULL,
    building_cents   BIGINT NOT NULL,
    explanation      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, run_id, parcel_id),
    FOREIGN KEY (municipality_id, run_id) REFERENCES assessment_model_runs (municipality_id, id),
    FOREIGN KEY (municipality_id, parcel_id) REFERENCES assessment_parcels (municipality_id, id)
);

CREATE INDEX assessment_model_run_values_parcel ON assessment_model_run_values (municipality_id, parcel_id);
