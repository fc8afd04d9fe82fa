-- Links from a document to another document of the town or to another module's record
-- (issue 6; docs/design/0013-records.md, "Links"). `kind` is `records.document` or
-- `{service}.{record}` (e.g. `finance.invoice`); `target` is the record's id in its module.
CREATE TABLE records_links (
    municipality_id TEXT NOT NULL,
    id              TEXT NOT NULL,
    document_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    label           TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, document_id, kind, target),
    FOREIGN KEY (municipality_id, document_id) REFERENCES records_documents (municipality_id, id)
);
CREATE INDEX records_links_by_target ON records_links (municipality_id, kind, target);
