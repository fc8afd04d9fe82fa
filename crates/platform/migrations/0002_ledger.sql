-- Finance: the general ledger (see docs/design/0002-finance-ledger.md).
-- Every table is owned by a municipality and keyed by (municipality_id, …).

CREATE TABLE ledger_funds (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    fund_type       TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, code),
    FOREIGN KEY (municipality_id, entity_id) REFERENCES entities (municipality_id, id)
);

CREATE TABLE ledger_accounts (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    fund_id         TEXT NOT NULL,
    account         TEXT NOT NULL,
    name            TEXT NOT NULL,
    class           TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, account),
    FOREIGN KEY (municipality_id, fund_id) REFERENCES ledger_funds (municipality_id, id)
);

CREATE TABLE ledger_periods (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    period          BIGINT NOT NULL,
    starts_on       TEXT NOT NULL,
    ends_on         TEXT NOT NULL,
    status          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, entity_id, fiscal_year, period)
);

CREATE TABLE ledger_entries (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    number          BIGINT NOT NULL,
    period          BIGINT NOT NULL,
    entry_date      TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    reverses_id     TEXT,
    created_at      TEXT NOT NULL,
    posted_at       TEXT,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, entity_id, fiscal_year, number)
);
CREATE INDEX ledger_entries_by_period ON ledger_entries (municipality_id, entity_id, fiscal_year, period);

CREATE TABLE ledger_lines (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    entry_id        TEXT NOT NULL,
    line_no         BIGINT NOT NULL,
    account_id      TEXT NOT NULL,
    debit_cents     BIGINT NOT NULL,
    credit_cents    BIGINT NOT NULL,
    memo            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, entry_id, line_no),
    FOREIGN KEY (municipality_id, entry_id) REFERENCES ledger_entries (municipality_id, id),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);

-- Posted activity per account and period, kept up to date as entries post,
-- so reports never scan journal lines of closed periods.
CREATE TABLE ledger_balances (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    account_id      TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    period          BIGINT NOT NULL,
    debit_cents     BIGINT NOT NULL,
    credit_cents    BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, account_id, fiscal_year, period)
);
