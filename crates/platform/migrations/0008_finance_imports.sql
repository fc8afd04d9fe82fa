-- Finance imports (docs/design/0003-finance-imports.md).

-- Where an entry came from: `import:REFERENCE`, `invoice:ID`, `payment-run:ID` …
-- Unique per entity, so the same source is never posted twice.
ALTER TABLE ledger_entries ADD COLUMN source TEXT;
CREATE UNIQUE INDEX ledger_entries_by_source ON ledger_entries (municipality_id, entity_id, source)
    WHERE source IS NOT NULL;

CREATE TABLE ledger_imports (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    fiscal_year     BIGINT,
    file_name       TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    blob_key        TEXT,
    status          TEXT NOT NULL,
    rows_read       BIGINT NOT NULL,
    summary         TEXT,
    errors          TEXT,
    created_by      TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    finished_at     TEXT,
    PRIMARY KEY (municipality_id, id)
);
-- A file is imported once per town and kind.
CREATE UNIQUE INDEX ledger_imports_once ON ledger_imports (municipality_id, kind, sha256)
    WHERE status = 'done';
