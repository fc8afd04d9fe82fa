-- Backup replication (issue 5; docs/design/0012, "Replication"): the server copies every object
-- of each repository to a second object store and verifies the copy. Each object records when
-- its copy was verified after writing (`replicated_at`, NULL while it waits) and when the copy
-- was last re-read against its name or the primary's bytes (`replica_checked_at`). Each
-- repository records its last run, its last verify pass with the number of objects the replica
-- lacked or held wrong then, and the last time that pass found the replica complete.

ALTER TABLE backup_objects ADD COLUMN replicated_at TEXT;
ALTER TABLE backup_objects ADD COLUMN replica_checked_at TEXT;

CREATE INDEX backup_objects_unreplicated ON backup_objects (municipality_id, repo_id, replicated_at, created_at);

ALTER TABLE backup_repositories ADD COLUMN last_replication_at TEXT;
ALTER TABLE backup_repositories ADD COLUMN replica_checked_at TEXT;
ALTER TABLE backup_repositories ADD COLUMN replica_missing BIGINT;
ALTER TABLE backup_repositories ADD COLUMN last_replica_verified_at TEXT;
