-- Finance: per-town settings.
-- appropriation_control: 'off', 'warn' (default) or 'block' — what posting
-- does when an expenditure would take an account past its revised budget.
CREATE TABLE ledger_settings (
    municipality_id         TEXT PRIMARY KEY REFERENCES municipalities (id),
    appropriation_control   TEXT NOT NULL
);
