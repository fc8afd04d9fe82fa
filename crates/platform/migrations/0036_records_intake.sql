-- Records intake folders (issue 6; docs/design/0013-records.md, "Intake folders"): a folder on
-- the server whose files are filed by themselves, as the person who set it up.
CREATE TABLE records_intake_folders (
    municipality_id TEXT NOT NULL REFERENCES municipalities (id),
    id              TEXT NOT NULL,
    -- The directory's name under the town's intake directory.
    name            TEXT NOT NULL,
    department_id   TEXT,
    type_id         TEXT,
    -- Tags for every file, separated by commas.
    tags            TEXT NOT NULL,
    file_as         TEXT NOT NULL REFERENCES users (id),
    created_at      TEXT NOT NULL,
    last_run_at     TEXT,
    last_filed      BIGINT NOT NULL,
    last_refused    BIGINT NOT NULL,
    last_message    TEXT,
    PRIMARY KEY (municipality_id, id),
    UNIQUE (municipality_id, name),
    FOREIGN KEY (municipality_id, department_id) REFERENCES departments (municipality_id, id),
    FOREIGN KEY (municipality_id, type_id) REFERENCES records_document_types (municipality_id, id)
);
