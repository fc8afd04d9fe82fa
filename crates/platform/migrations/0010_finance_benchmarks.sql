-- Regional benchmarks: a town shares its expenditures per capita by UCOA
-- function with the other towns that share theirs (opt-in, off by default).
ALTER TABLE ledger_settings ADD COLUMN share_benchmarks BOOLEAN NOT NULL DEFAULT FALSE;
