-- Finance: year-end close. Closing moves the year's revenues and
-- expenditures into fund balance with a closing entry in period 13, and
-- carries balance-sheet accounts into the next year as period-0 balances.
CREATE TABLE ledger_year_closes (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    entity_id       TEXT NOT NULL,
    fiscal_year     BIGINT NOT NULL,
    closing_entry_id TEXT NOT NULL,
    closed_at       TEXT NOT NULL,
    PRIMARY KEY (municipality_id, entity_id, fiscal_year)
);
