-- Finance: vendors and purchase orders. An approved (open) purchase order
-- encumbers its accounts: it reserves budget until invoices liquidate it or
-- the order is closed.

CREATE TABLE ledger_vendors (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    remit_to        TEXT NOT NULL,
    is_1099         BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, name)
);

CREATE TABLE ledger_purchase_orders (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    number          BIGINT NOT NULL,
    vendor_id       TEXT NOT NULL,
    po_date         TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, fiscal_year, number),
    FOREIGN KEY (municipality_id, vendor_id) REFERENCES ledger_vendors (municipality_id, id)
);

CREATE TABLE ledger_po_lines (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    po_id           TEXT NOT NULL,
    line_no         BIGINT NOT NULL,
    account_id      TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    liquidated_cents BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, po_id, line_no),
    FOREIGN KEY (municipality_id, po_id) REFERENCES ledger_purchase_orders (municipality_id, id),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);
