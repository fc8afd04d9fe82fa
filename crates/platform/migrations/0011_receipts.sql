-- Cash receipts: money a town takes in, recorded against revenue accounts and
-- posted through the journal (the entry's source is `receipt:ID`).
CREATE TABLE ledger_receipts (
    municipality_id     TEXT NOT NULL REFERENCES municipalities (id),
    id                  TEXT NOT NULL,
    entity_id           TEXT NOT NULL,
    fiscal_year         BIGINT NOT NULL,
    number              BIGINT NOT NULL,
    receipt_date        TEXT NOT NULL,
    payer               TEXT NOT NULL,
    description         TEXT NOT NULL,
    total_cents         BIGINT NOT NULL,
    entry_id            TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, fiscal_year, number),
    FOREIGN KEY (municipality_id, entry_id) REFERENCES ledger_entries (municipality_id, id)
);
