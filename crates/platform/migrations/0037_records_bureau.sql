-- The scanning bureau (issue 6; docs/design/0013-records.md, "Scanning bureau"). A contributor
-- holds edit but not view in a town's records — the role a town grants the council's scanning
-- bureau — and sees only the documents they filed; the pages they file are metered for the
-- shared-services chargeback.

-- The user who filed the document (NULL for documents filed before this was kept).
ALTER TABLE records_documents ADD COLUMN filed_by_user TEXT REFERENCES users (id);
CREATE INDEX records_documents_by_filer ON records_documents (municipality_id, filed_by_user);

-- Whether a contributor filed the version (pages of such versions are the bureau's work).
ALTER TABLE records_versions ADD COLUMN contributed BOOLEAN NOT NULL DEFAULT FALSE;

-- The search index now carries the filer: every town's index is rebuilt.
UPDATE records_settings SET index_epoch = index_epoch + 1;
