-- Backup retention and garbage collection (issue 5; docs/design/0012, "Server side").
--
-- Each host's retention policy (keep last / hourly / daily / weekly / monthly /
-- yearly; all zero keeps everything), snapshots the policy forgot (the row stays
-- as history, its objects go), and which index files each snapshot's signed
-- metadata names, so garbage collection can remove index files nothing needs.

ALTER TABLE backup_hosts ADD COLUMN keep_last BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backup_hosts ADD COLUMN keep_hourly BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backup_hosts ADD COLUMN keep_daily BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backup_hosts ADD COLUMN keep_weekly BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backup_hosts ADD COLUMN keep_monthly BIGINT NOT NULL DEFAULT 0;
ALTER TABLE backup_hosts ADD COLUMN keep_yearly BIGINT NOT NULL DEFAULT 0;
-- Who set the policy: the scheduled run acts with that person's rights of the day
-- (as a backup token acts for its issuer), so no job holds rights nobody granted.
ALTER TABLE backup_hosts ADD COLUMN policy_by TEXT REFERENCES users (id);
ALTER TABLE backup_hosts ADD COLUMN policy_at TEXT;

ALTER TABLE backup_snapshots ADD COLUMN forgotten_at TEXT;

CREATE TABLE backup_snapshot_index (
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    snapshot        TEXT NOT NULL,
    index_name      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, snapshot, index_name),
    FOREIGN KEY (municipality_id, repo_id, snapshot) REFERENCES backup_snapshots (municipality_id, repo_id, name)
);

CREATE INDEX backup_snapshot_index_by_name ON backup_snapshot_index (municipality_id, repo_id, index_name);
