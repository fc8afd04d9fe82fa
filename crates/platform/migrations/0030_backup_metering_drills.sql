-- Metering and restore drills (issue 5; docs/design/0012, "Server side").
--
-- `usage_daily` is the shared-services program's meter: one reading per town,
-- service, metric and day (the day's peak, in the metric's unit; backup meters
-- `stored_bytes`, the deduplicated bytes the town's repositories hold). Monthly
-- charges read it as unit-days (GB-months for stored bytes). Other services'
-- meters (pages scanned, …) use the same table.
CREATE TABLE usage_daily (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    service         TEXT NOT NULL,
    metric          TEXT NOT NULL,
    -- YYYY-MM-DD, in UTC.
    day             TEXT NOT NULL,
    quantity        BIGINT NOT NULL CHECK (quantity >= 0),
    measured_at     TEXT NOT NULL,
    PRIMARY KEY (municipality_id, service, metric, day)
);

-- A restore drill: a client read a sample of a repository's packs, decrypted
-- and verified every blob in them, and restored files from its newest
-- snapshot; it reports here as the town's evidence that restores work. The
-- server checks the packs it names exist and their sizes add up to the bytes
-- it says it read.
CREATE TABLE backup_drills (
    municipality_id  TEXT NOT NULL,
    repo_id          TEXT NOT NULL,
    id               TEXT NOT NULL,
    host             TEXT NOT NULL,
    token_id         TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    -- The sample: subset N of M of the packs.
    subset_n         BIGINT NOT NULL,
    subset_m         BIGINT NOT NULL,
    snapshots        BIGINT NOT NULL,
    packs_read       BIGINT NOT NULL,
    bytes_read       BIGINT NOT NULL,
    snapshot         TEXT,
    files_restored   BIGINT NOT NULL,
    bytes_restored   BIGINT NOT NULL,
    -- JSON array of strings; empty when the drill passed.
    problems         TEXT NOT NULL,
    passed           BOOLEAN NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, id),
    FOREIGN KEY (municipality_id, repo_id) REFERENCES backup_repositories (municipality_id, id)
);

-- The packs each drill read: which of the data recent drills have proven.
CREATE TABLE backup_drill_packs (
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    drill_id        TEXT NOT NULL,
    pack            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, drill_id, pack),
    FOREIGN KEY (municipality_id, repo_id, drill_id) REFERENCES backup_drills (municipality_id, repo_id, id)
);

CREATE INDEX backup_drill_packs_by_pack ON backup_drill_packs (municipality_id, repo_id, pack);

CREATE INDEX backup_drills_by_time ON backup_drills (municipality_id, repo_id, received_at);

-- How often each repository should be drilled (days).
ALTER TABLE backup_repositories ADD COLUMN drill_interval_days BIGINT NOT NULL DEFAULT 30;
