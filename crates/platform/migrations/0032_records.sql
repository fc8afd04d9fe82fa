-- Records (issue 6; docs/design/0013-records.md), first slice: document types with
-- typed custom fields, documents with versions, content stored once per town by
-- SHA-256 (the bytes live in the blob store under
-- `towns/{municipality_id}/records/content/{sha[0..2]}/{sha256}`), tags, notes,
-- department limits of records users, and the intent log that makes ingestion
-- crash-safe.

-- One row per town: its settings; the row is also the town's ingestion lock
-- (uploads and the orphan sweep update it first in their transactions).
CREATE TABLE records_settings (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    max_upload_bytes BIGINT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (municipality_id)
);

CREATE TABLE records_document_types (
    municipality_id  TEXT NOT NULL REFERENCES municipalities (id),
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    -- A retention series code (e.g. M3-110); free text until the catalog exists.
    retention_series TEXT,
    -- JSON array of {"name", "kind": text|number|date|boolean, "required"}.
    fields_json      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, name)
);

CREATE TABLE records_contents (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    sha256          TEXT NOT NULL,
    size            BIGINT NOT NULL,
    media_type      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, sha256)
);

CREATE TABLE records_documents (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    -- NULL: a town-wide document.
    department_id   TEXT,
    type_id         TEXT,
    title           TEXT NOT NULL,
    correspondent   TEXT,
    document_date   TEXT,
    confidential    BOOLEAN NOT NULL,
    -- JSON object of custom field values, checked against the type.
    fields_json     TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, department_id) REFERENCES departments (municipality_id, id),
    FOREIGN KEY (municipality_id, type_id) REFERENCES records_document_types (municipality_id, id)
);
CREATE INDEX records_documents_by_date ON records_documents (municipality_id, document_date);
CREATE INDEX records_documents_by_department ON records_documents (municipality_id, department_id);

CREATE TABLE records_versions (
    municipality_id TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    number          BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    size            BIGINT NOT NULL,
    media_type      TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, document_id, number),
    FOREIGN KEY (municipality_id, document_id) REFERENCES records_documents (municipality_id, id),
    FOREIGN KEY (municipality_id, sha256) REFERENCES records_contents (municipality_id, sha256)
);
CREATE INDEX records_versions_by_content ON records_versions (municipality_id, sha256);

CREATE TABLE records_tags (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, name)
);

CREATE TABLE records_document_tags (
    municipality_id TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    tag_id          TEXT NOT NULL,
    PRIMARY KEY (municipality_id, document_id, tag_id),
    FOREIGN KEY (municipality_id, document_id) REFERENCES records_documents (municipality_id, id),
    FOREIGN KEY (municipality_id, tag_id) REFERENCES records_tags (municipality_id, id)
);

CREATE TABLE records_notes (
    municipality_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    FOREIGN KEY (municipality_id, document_id) REFERENCES records_documents (municipality_id, id)
);

-- A records user limited to some departments of the town (no rows: the whole town).
CREATE TABLE records_department_access (
    municipality_id TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    department_id   TEXT NOT NULL,
    PRIMARY KEY (municipality_id, user_id, department_id),
    FOREIGN KEY (municipality_id, department_id) REFERENCES departments (municipality_id, id)
);

-- Uploads in flight: committed before any byte is stored, deleted in the
-- transaction that commits the document; what a crash leaves, the sweep cleans.
CREATE TABLE records_staged_uploads (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    temp_key        TEXT NOT NULL,
    -- The content's SHA-256 once the body was read whole (NULL before).
    sha256          TEXT,
    started_by      TEXT NOT NULL REFERENCES users (id),
    started_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id)
);
CREATE INDEX records_staged_uploads_by_age ON records_staged_uploads (started_at);
