-- Platform schema: region, tenancy, identity, access, audit, jobs.
-- Portable SQL only: this file runs unchanged on SQLite and PostgreSQL.
-- Ids are UUIDv7 text made by the application; times are fixed-width UTC
-- RFC 3339 text (sortable, readable on both); money is BIGINT cents; rates are
-- exact decimal text. Dialect-specific guards live in platform::db::dialect.

CREATE TABLE region (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- A municipality is the tenant. Its own row is keyed by id; every table it owns
-- is keyed by (municipality_id, id).
CREATE TABLE municipalities (
    id                      TEXT PRIMARY KEY,
    slug                    TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    fips                    TEXT NOT NULL UNIQUE,
    county                  TEXT NOT NULL,
    population              BIGINT NOT NULL,
    net_grand_list_cents    BIGINT NOT NULL,
    mill_rate               TEXT NOT NULL,
    active                  BOOLEAN NOT NULL,
    created_at              TEXT NOT NULL
);

CREATE TABLE entities (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, kind)
);

CREATE TABLE departments (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, code),
    FOREIGN KEY (municipality_id, entity_id) REFERENCES entities (municipality_id, id)
);

CREATE TABLE subscriptions (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    service         TEXT NOT NULL,
    effective_from  TEXT NOT NULL,
    ended_on        TEXT,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);
CREATE INDEX subscriptions_by_service ON subscriptions (municipality_id, service);

CREATE TABLE users (
    id                      TEXT PRIMARY KEY,
    username                TEXT NOT NULL UNIQUE,
    display_name            TEXT NOT NULL,
    email                   TEXT NOT NULL,
    password_hash           TEXT NOT NULL,
    council_admin           BOOLEAN NOT NULL,
    active                  BOOLEAN NOT NULL,
    must_change_password    BOOLEAN NOT NULL,
    failed_signins          BIGINT NOT NULL,
    locked_until            TEXT,
    created_at              TEXT NOT NULL,
    password_changed_at     TEXT NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE role_permissions (
    role_id     TEXT NOT NULL REFERENCES roles (id),
    service     TEXT NOT NULL,
    permission  TEXT NOT NULL,
    PRIMARY KEY (role_id, service, permission)
);

-- A grant gives a user a role at a scope: the region (municipality_id NULL),
-- one municipality, or one municipality and one service.
CREATE TABLE grants (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    role_id         TEXT NOT NULL REFERENCES roles (id),
    municipality_id TEXT REFERENCES municipalities (id),
    service         TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT,
    revoked_at      TEXT
);
CREATE INDEX grants_by_user ON grants (user_id);
CREATE INDEX grants_by_municipality ON grants (municipality_id);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    csrf_token      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    user_agent      TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    service         TEXT NOT NULL,
    label           TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    token_prefix    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT,
    last_used_at    TEXT,
    revoked_at      TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Append-only, hash-chained audit log: one chain per municipality, plus the
-- region chain for region-level changes (users, roles, towns).
CREATE TABLE audit_events (
    chain           TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    id              TEXT NOT NULL UNIQUE,
    at              TEXT NOT NULL,
    actor_user_id   TEXT,
    actor           TEXT NOT NULL,
    municipality_id TEXT,
    service         TEXT,
    action          TEXT NOT NULL,
    entity_type     TEXT NOT NULL,
    entity_id       TEXT NOT NULL,
    before_json     TEXT,
    after_json      TEXT,
    request_id      TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_municipality ON audit_events (municipality_id, at);

CREATE TABLE audit_chain_heads (
    chain   TEXT PRIMARY KEY,
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL
);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    municipality_id TEXT,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    max_attempts    BIGINT NOT NULL,
    run_at          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    last_error      TEXT,
    result          TEXT
);
CREATE INDEX jobs_ready ON jobs (status, run_at);
