-- Finance: adopted budgets and their amendments and transfers.

CREATE TABLE ledger_budgets (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    account_id      TEXT NOT NULL,
    adopted_cents   BIGINT NOT NULL,
    adopted_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, account_id, fiscal_year),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);

-- An amendment changes the total appropriation (e.g. a supplemental
-- appropriation); a transfer moves budget between accounts and nets to zero.
-- Both take effect only once approved.
CREATE TABLE ledger_budget_changes (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    decided_at      TEXT,
    PRIMARY KEY (municipality_id, id)
);

CREATE TABLE ledger_budget_change_lines (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    change_id       TEXT NOT NULL,
    line_no         BIGINT NOT NULL,
    account_id      TEXT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    PRIMARY KEY (municipality_id, change_id, line_no),
    FOREIGN KEY (municipality_id, change_id) REFERENCES ledger_budget_changes (municipality_id, id),
    FOREIGN KEY (municipality_id, account_id) REFERENCES ledger_accounts (municipality_id, id)
);
