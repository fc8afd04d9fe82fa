-- Backup server (issue 5; docs/design/0012-backup-format.md, "Server contract").
--
-- A town's repositories, the objects the server accepted into them (its own
-- listing: names, sizes and when; the bytes live in the blob store under
-- `towns/{municipality_id}/backup/{repo_id}/{kind}/{name}`), the
-- snapshots it verified from their signed metadata with the packs each
-- references (for retention and garbage collection later), each host's
-- expected backup interval, and the append-only backup tokens (stored as
-- SHA-256 of the secret, like API tokens).

CREATE TABLE backup_repositories (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    -- NULL: no quota.
    quota_bytes     BIGINT,
    -- The `config` object as PUT by the client (JSON text), NULL before `init`.
    config          TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, name)
);

CREATE TABLE backup_objects (
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    -- config, keys, data, index, snapshots or meta.
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    size            BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    -- The backup token that wrote it.
    token_id        TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, kind, name),
    FOREIGN KEY (municipality_id, repo_id) REFERENCES backup_repositories (municipality_id, id)
);

CREATE INDEX backup_objects_by_day ON backup_objects (municipality_id, repo_id, created_at);

CREATE TABLE backup_snapshots (
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    -- SHA-256 of the `snapshots/` object (the `meta/` object has the same name).
    name            TEXT NOT NULL,
    host            TEXT NOT NULL,
    -- The backup's start as the client signed it, in the stored timestamp form.
    time            TEXT NOT NULL,
    -- JSON array of strings.
    tags            TEXT NOT NULL,
    parent          TEXT,
    files           BIGINT NOT NULL,
    dirs            BIGINT NOT NULL,
    logical_bytes   BIGINT NOT NULL,
    added_bytes     BIGINT NOT NULL,
    -- The server's clock when the metadata was accepted (freshness uses this).
    received_at     TEXT NOT NULL,
    token_id        TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, name),
    FOREIGN KEY (municipality_id, repo_id) REFERENCES backup_repositories (municipality_id, id)
);

CREATE INDEX backup_snapshots_by_host ON backup_snapshots (municipality_id, repo_id, host, received_at);

-- Which packs each verified snapshot references: garbage collection keeps a
-- pack while any snapshot lists it.
CREATE TABLE backup_snapshot_packs (
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    snapshot        TEXT NOT NULL,
    pack            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, snapshot, pack),
    FOREIGN KEY (municipality_id, repo_id, snapshot) REFERENCES backup_snapshots (municipality_id, repo_id, name)
);

CREATE INDEX backup_snapshot_packs_by_pack ON backup_snapshot_packs (municipality_id, repo_id, pack);

-- Each host of a repository and how often it should back up (default 24 h).
CREATE TABLE backup_hosts (
    municipality_id          TEXT NOT NULL,
    repo_id                  TEXT NOT NULL,
    host                     TEXT NOT NULL,
    expected_interval_hours  BIGINT NOT NULL,
    updated_at               TEXT NOT NULL,
    PRIMARY KEY (municipality_id, repo_id, host),
    FOREIGN KEY (municipality_id, repo_id) REFERENCES backup_repositories (municipality_id, id)
);

CREATE TABLE backup_tokens (
    id              TEXT PRIMARY KEY,
    municipality_id TEXT NOT NULL,
    repo_id         TEXT NOT NULL,
    host            TEXT NOT NULL,
    label           TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    token_prefix    TEXT NOT NULL,
    -- The user who issued it; the token acts with that user's rights.
    created_by      TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT,
    FOREIGN KEY (municipality_id, repo_id) REFERENCES backup_repositories (municipality_id, id)
);

CREATE INDEX backup_tokens_by_town ON backup_tokens (municipality_id, created_at);
