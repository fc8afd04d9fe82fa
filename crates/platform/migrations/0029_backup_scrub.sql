-- Backup scrub (issue 5; docs/design/0012, "Server side"): the server re-reads every pack and
-- checks it against its SHA-256 name. Each object records when it was last checked and, if it
-- failed, why; each repository records its owner (who created it: the scheduled scrub acts for
-- that person, as retention acts for a policy's author) and its last scrub.

ALTER TABLE backup_objects ADD COLUMN checked_at TEXT;
ALTER TABLE backup_objects ADD COLUMN damage TEXT;

ALTER TABLE backup_repositories ADD COLUMN owner_id TEXT REFERENCES users (id);
ALTER TABLE backup_repositories ADD COLUMN last_scrub_at TEXT;
