-- Recurring journal entries: a template drafted once a month on its day
-- (source `recurring:ID:DATE`, so a month is never drafted twice).
CREATE TABLE ledger_recurring (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    description     TEXT NOT NULL,
    lines           TEXT NOT NULL,
    day_of_month    BIGINT NOT NULL,
    next_date       TEXT NOT NULL,
    end_date        TEXT,
    active          BOOLEAN NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);
