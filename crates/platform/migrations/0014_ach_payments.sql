-- Finance: paying vendors by ACH. A vendor with a bank account on file is
-- paid by ACH credit instead of check; the account number is sealed with the
-- server's secret key (never stored in the clear) and only its last four
-- digits are kept for display. Each entity's books name the bank that
-- originates their ACH files. Every NACHA file generated is recorded, which
-- also numbers the file-id modifier (A, B, …) of files made the same day.

CREATE TABLE ledger_vendor_bank_accounts (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    vendor_id       TEXT NOT NULL,
    routing         TEXT NOT NULL,
    account_sealed  TEXT NOT NULL,
    account_last4   TEXT NOT NULL,
    account_type    TEXT NOT NULL CHECK (account_type IN ('checking', 'savings')),
    sec_code        TEXT NOT NULL CHECK (sec_code IN ('CCD', 'PPD')),
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, vendor_id),
    FOREIGN KEY (municipality_id, vendor_id) REFERENCES ledger_vendors (municipality_id, id)
);

CREATE TABLE ledger_ach_originators (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    entity_id       TEXT NOT NULL,
    odfi_routing    TEXT NOT NULL,
    bank_name       TEXT NOT NULL,
    company_name    TEXT NOT NULL,
    company_id      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, entity_id),
    FOREIGN KEY (municipality_id, entity_id) REFERENCES entities (municipality_id, id)
);

-- An invoice paid by ACH carries the entry's trace sequence instead of a check number.
ALTER TABLE ledger_invoices ADD COLUMN ach_trace BIGINT;

CREATE TABLE ledger_ach_files (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    payment_run_id  TEXT NOT NULL,
    file_date       TEXT NOT NULL,
    modifier        TEXT NOT NULL,
    entries         BIGINT NOT NULL,
    total_cents     BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, file_date, modifier),
    FOREIGN KEY (municipality_id, payment_run_id) REFERENCES ledger_payment_runs (municipality_id, id)
);
