-- Records retention, disposition and legal holds (issue 6; docs/design/0013-records.md,
-- "Retention, disposition, legal holds"). The schedules M1–M16 are product data
-- (crates/records/data/retention_schedules.csv); the series are entered or imported.

-- A retention series: the region's (municipality_id NULL: the council's catalog) or a
-- town's local series. rule_kind: years | permanent | life_of_structure | follow.
-- trigger (rule_kind = years): creation | calendar_year_end | fiscal_year_end | audit |
-- issue | expiration | project_completion | event. disposition: destroy | retain |
-- archival_review. source: entered | imported | illustrative (never "official").
CREATE TABLE records_retention_series (
    id              TEXT NOT NULL,
    municipality_id TEXT REFERENCES municipalities (id),
    schedule        TEXT NOT NULL,
    code            TEXT NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    rule_kind       TEXT NOT NULL,
    trigger_kind    TEXT,
    years           BIGINT,
    follow_code     TEXT,
    disposition     TEXT NOT NULL,
    essential       BOOLEAN NOT NULL,
    source          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (id)
);
CREATE UNIQUE INDEX records_retention_series_code ON records_retention_series (COALESCE(municipality_id, ''), code);

-- A document type refers to a catalog series (the region's or the town's own);
-- `retention_series` keeps the code as entered before the catalog existed.
ALTER TABLE records_document_types ADD COLUMN retention_series_id TEXT REFERENCES records_retention_series (id);

-- The date a user records for an event trigger (audit completed, expiration,
-- project completion, event) and the computed end of retention (NULL: never due
-- or not computable yet; the document page says which).
ALTER TABLE records_documents ADD COLUMN trigger_date TEXT;
ALTER TABLE records_documents ADD COLUMN retention_due TEXT;
CREATE INDEX records_documents_by_due ON records_documents (municipality_id, retention_due);

-- Legal holds. kind: document | series (a `search` kind comes with saved-search holds;
-- target_id is then the saved search's id). Active while released_at IS NULL.
CREATE TABLE records_legal_holds (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target_id       TEXT NOT NULL,
    matter          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    placed_by       TEXT NOT NULL,
    placed_at       TEXT NOT NULL,
    released_by     TEXT,
    released_at     TEXT,
    release_reason  TEXT,
    PRIMARY KEY (municipality_id, id)
);
CREATE INDEX records_legal_holds_by_target ON records_legal_holds (municipality_id, kind, target_id);

-- Disposal batches: draft -> approved -> destroying -> destroyed. The authorization
-- (modelled on Form RC-075) is rendered at approval and stored in the blob store.
CREATE TABLE records_disposal_batches (
    municipality_id    TEXT NOT NULL REFERENCES municipalities (id),
    id                 TEXT NOT NULL,
    number             BIGINT NOT NULL,
    status             TEXT NOT NULL,
    agency             TEXT NOT NULL,
    note               TEXT,
    requested_by       TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    approved_by        TEXT,
    approved_at        TEXT,
    authorization_sha256 TEXT,
    destroyed_by       TEXT,
    destroyed_at       TEXT,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, number)
);

-- The documents of a batch (no foreign key to records_documents: after destruction
-- the document's row is gone and its tombstone remains).
CREATE TABLE records_disposal_items (
    municipality_id TEXT NOT NULL,
    batch_id        TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    PRIMARY KEY (municipality_id, batch_id, document_id),
    FOREIGN KEY (municipality_id, batch_id) REFERENCES records_disposal_batches (municipality_id, id)
);

-- Content objects to delete after a destruction committed (the crash-safe tail: a
-- re-run of the destruction finishes them).
CREATE TABLE records_disposal_purges (
    municipality_id TEXT NOT NULL,
    batch_id        TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, batch_id, sha256)
);

-- What remains of a destroyed document: its metadata, never its content. The row in
-- records_documents (and its versions, tags, notes, texts) is deleted by the destruction.
CREATE TABLE records_tombstones (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    title           TEXT NOT NULL,
    type_name       TEXT,
    department      TEXT,
    series_code     TEXT,
    series_title    TEXT,
    document_date   TEXT,
    trigger_date    TEXT,
    retention_due   TEXT,
    sha256          TEXT NOT NULL,
    versions_json   TEXT NOT NULL,
    filed_at        TEXT NOT NULL,
    filed_by        TEXT NOT NULL,
    batch_id        TEXT NOT NULL,
    destroyed_at    TEXT NOT NULL,
    destroyed_by    TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);
