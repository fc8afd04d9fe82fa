-- Finance: vendor invoices and payment runs.

CREATE TABLE ledger_invoices (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    vendor_id       TEXT NOT NULL,
    po_id           TEXT,
    invoice_number  TEXT NOT NULL,
    invoice_date    TEXT NOT NULL,
    description     TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    status          TEXT NOT NULL,
    entry_id        TEXT,
    payment_run_id  TEXT,
    check_number    BIGINT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, vendor_id, invoice_number),
    FOREIGN KEY (municipality_id, vendor_id) REFERENCES ledger_vendors (municipality_id, id)
);

CREATE TABLE ledger_invoice_lines (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    invoice_id      TEXT NOT NULL,
    line_no         BIGINT NOT NULL,
    account_id      TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, invoice_id, line_no),
    FOREIGN KEY (municipality_id, invoice_id) REFERENCES ledger_invoices (municipality_id, id),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);

CREATE TABLE ledger_payment_runs (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    run_date        TEXT NOT NULL,
    first_check     BIGINT NOT NULL,
    entry_id        TEXT NOT NULL,
    total_cents     BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);
