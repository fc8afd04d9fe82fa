-- Records search (issue 6; docs/design/0013-records.md, "Search"): the change log
-- that every node's search index follows, the text of each version (extracted or
-- OCR'd) that the index reads, and saved searches.

-- The town's change counter and index epoch. A change to a town's documents bumps
-- `index_seq` in its transaction (an UPDATE of this row, so changes of one town take
-- their numbers in commit order) and logs the documents it touched under that number.
-- `munishare records reindex` bumps `index_epoch`: every node then rebuilds its copy.
ALTER TABLE records_settings ADD COLUMN index_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE records_settings ADD COLUMN index_epoch BIGINT NOT NULL DEFAULT 0;

CREATE TABLE records_index_log (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    seq             BIGINT NOT NULL,
    document_id     TEXT NOT NULL,
    logged_at       TEXT NOT NULL,
    PRIMARY KEY (municipality_id, seq, document_id)
);
CREATE INDEX records_index_log_by_age ON records_index_log (logged_at);

-- The text of a version, for search: extracted from born-digital files or OCR'd.
-- status: pending | done | failed | skipped; `message` says why it failed or was skipped.
CREATE TABLE records_version_texts (
    municipality_id TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    number          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    method          TEXT,
    body            TEXT NOT NULL,
    message         TEXT,
    pages           BIGINT,
    attempts        BIGINT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, document_id, number),
    FOREIGN KEY (municipality_id, document_id, number) REFERENCES records_versions (municipality_id, document_id, number)
);
CREATE INDEX records_version_texts_by_status ON records_version_texts (municipality_id, status);

-- A search kept under a name: by its owner, or shared with the town's records users.
CREATE TABLE records_saved_searches (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    name            TEXT NOT NULL,
    -- The query string of the search page (q, type, department, tag, from, to, field, sort).
    query           TEXT NOT NULL,
    shared          BOOLEAN NOT NULL,
    owner_id        TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, owner_id, name)
);
